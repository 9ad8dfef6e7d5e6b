# Common flows. `make` sets everything up and runs the main job; `make test` runs the suite.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
EXTRAS  ?= train,export,board,micro,dev
APT_PACKAGES ?= dataset-fashion-mnist openssh-server openssh-client qemu-user-static gcc-arm-none-eabi \
                picolibc-arm-none-eabi qemu-system-arm gcc make

.PHONY: all setup system venv export test test-fast gate verify-arm verify-pythons verify-micro bench bench-micro bench-convert tradeoff readme docs default-model clean

all: setup export

setup: system $(BIN)/.installed

# Debian packages, each installed only when missing: Fashion-MNIST (IDX files in
# /usr/share/datasets/fashion-mnist), an OpenSSH server and client (sqz deploy and its tests) and
# qemu user-mode (sqz verify on aarch64 / armv7l), the Arm bare-metal compiler with picolibc and qemu's
# system emulator (sqz_model.c built and run on emulated Cortex-M4/M7/M33/M55) and a host C compiler.
system:
	@SQZ_APT="$(APT_PACKAGES)" sh tools/system-packages.sh

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	touch $@

export: setup
	$(BIN)/sqz-export --int8

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

# The suite without the tests that train, export a trained model or emulate ARM (marked slow): a quick check.
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

# The CI gate on the exported int8 model: exits 1 (and fails the build) when it is over budget.
gate: export
	$(BIN)/sqz check exports/default/model_int8.tflite --budget 0.5MB

# The exported default model under qemu (Debian arm64/armhf Python + ARM wheels, cached in ~/.cache/sqz/arm):
# aarch64 on Debian 13 trixie (the default) and 12 bookworm, model_int8.tflite with ai-edge-litert; armv7l on
# bookworm (the default there), model_int8.tflite with tflite-runtime; armv7l on trixie, model.onnx with
# Debian's python3-onnxruntime (no TFLite interpreter exists for armv7l on Python 3.13).
verify-arm: export
	$(BIN)/sqz verify exports/default --arch aarch64
	$(BIN)/sqz verify exports/default --arch aarch64 --os bookworm
	$(BIN)/sqz verify exports/default --arch armv7l
	$(BIN)/sqz verify exports/default --arch armv7l --os trixie

# `sqz run` on the default export with CPython 3.10, 3.12 and 3.13 (x86_64 Ubuntu 22.04, Ubuntu 24.04 and Debian 13
# userlands under qemu, the [board] wheels pip resolves for each, cached in ~/.cache/sqz/pythons), compared byte
# for byte with this machine's Python: int8 outputs and top-k lines; exit 1 on any difference.
verify-pythons: export
	$(BIN)/python -m tools.pythons exports/default

# The exported default model in TensorFlow Lite Micro and as generated C (this machine, emulated Cortex-M4 / M7 / M55
# under qemu-system-arm), bit-identical to the reference kernels, and its flash / RAM gate on the Nano 33 BLE Sense.
verify-micro: export
	$(BIN)/sqz verify exports/default --target nano33ble
	$(BIN)/sqz check exports/default/model_int8.tflite --target nano33ble

# Latency, size, accuracy and export time of every artifact, side by side, plus litert-torch as a peer
# (own venv in bench/.venv-litert-torch); writes docs/bench/ and the blocks of docs/performance.md.
bench: setup
	nice -n 15 $(BIN)/python -m bench.run

# Flash, RAM and instructions per inference of the generated C on emulated Cortex-M against TFLite Micro:
# docs/bench/micro.{json,md} and the block in docs/micro.md.
bench-micro: export
	nice -n 15 $(BIN)/python -m bench.micro

# Conversion time and peak RSS, sqz against the old onnx2tf path (sqz @1912957 in bench/.venv-onnx2tf) and
# litert-torch (bench/.venv-litert-torch), interleaved rounds at 32² and 224²: docs/bench/convert.{json,md}.
bench-convert: setup
	nice -n 15 $(BIN)/python -m bench.convert

# Size against accuracy for the compression variants (about 50 minutes; --quick about 25): docs/tradeoff/.
tradeoff: setup
	$(BIN)/python -m bench.tradeoff

# Refresh the generated blocks of README.md and docs/*.md from a fresh export of the default model and the bench outputs.
readme: export
	cp exports/default/report.md docs/default_export.md
	$(BIN)/python tools/examples.py
	$(BIN)/python tools/readme.py

# The documentation site (mkdocs.yml, pages in docs/) into site/; a broken link or a page left out of the nav fails it.
docs: setup
	$(BIN)/mkdocs build --strict --site-dir site

# Retrain the bundled checkpoint (about 20 minutes on 2 cores) and copy it into the package.
default-model: setup
	$(BIN)/sqz train --data fashion-mnist --arch 1.1 --budget none --epochs 40 --seed 0 --out runs/default
	$(BIN)/python tools/bundle_default.py runs/default sqz/models/fashion_mnist_1.1

clean:
	rm -rf exports runs site .pytest_cache
