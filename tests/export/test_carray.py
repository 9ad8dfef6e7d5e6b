"""The C sources for TensorFlow Lite Micro: exact ops, and a build proof with the Arm bare-metal compiler."""

import json
import re
import shutil
import subprocess

import pytest

from sqz.export import carray, micro
from sqz.export import report as report_mod
from sqz.targets.micro import modelinfo

GCC = shutil.which("arm-none-eabi-gcc")
SIZE = shutil.which("arm-none-eabi-size")
needs_gcc = pytest.mark.skipif(
    not (GCC and SIZE), reason="arm-none-eabi-gcc is not installed (make setup installs gcc-arm-none-eabi)"
)


@pytest.fixture(scope="module")
def micro_files(tiny_export, tmp_path_factory):
    out, _ = tiny_export
    rep = report_mod.read(out)
    work = tmp_path_factory.mktemp("micro_files")
    names = micro.export(work, {"int8": out / "model_int8.tflite"}, "nano33ble", rep)
    return work, names, rep, (out / "model_int8.tflite").read_bytes()


def test_files_carry_length_labels_quantisation_and_exact_ops(micro_files):
    work, names, rep, content = micro_files
    assert {"model_data.cc", "model_data.h", "model_ops.h"} <= set(names)  # beside the compiled C (test_csource)
    header = (work / "model_data.h").read_text()
    assert f"constexpr unsigned int g_model_len = {len(content)};" in header
    assert f"kTensorArenaSize = {rep.micro['arena']['board']};" in header
    assert '"T-shirt/top"' in header and "kNumClasses = 10;" in header
    zp = rep.artifacts["model_int8.tflite"]["io"]["input"]["zero_point"]
    assert f"kInputZeroPoint = {zp};" in header
    assert "alignas(16) const unsigned char g_model[g_model_len]" in (work / "model_data.cc").read_text()
    ops_h = (work / "model_ops.h").read_text()
    ops = list(modelinfo.read(content).ops)
    assert set(ops) == {"CONV_2D", "MAX_POOL_2D", "CONCATENATION", "RESHAPE"}
    added = re.findall(r"resolver\.(Add\w+)\(\)", ops_h)
    assert added == [modelinfo.resolver_methods()[op] for op in ops] and len(set(added)) == len(added)
    assert "MicroMutableOpResolver<kNumOps>" in ops_h and f"kNumOps = {len(ops)};" in ops_h
    assert rep.micro["arena"]["host_smallest"] > 0
    assert rep.micro["verdict"]["path"] == "model_int8.tflite" and str(work) not in json.dumps(rep.micro)


def test_array_round_trips_to_the_model_bytes(micro_files):
    work, _, _, content = micro_files
    text = (work / "model_data.cc").read_text()
    body = text[text.index("{") + 1 : text.rindex("}")]
    assert bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", body)) == content


@needs_gcc
def test_model_data_compiles_for_cortex_m4_and_rodata_is_the_model(micro_files):
    work, _, _, content = micro_files
    obj = work / "model_data.o"
    subprocess.run(
        [GCC, "-mcpu=cortex-m4", "-mthumb", "-Os", "-c", str(work / "model_data.cc"), "-o", str(obj)],
        check=True,
        capture_output=True,
        text=True,
    )
    sections = dict(
        re.findall(
            r"^(\.\w+)\s+(\d+)",
            subprocess.run([SIZE, "-A", str(obj)], check=True, capture_output=True, text=True).stdout,
            re.M,
        )
    )
    rodata = int(sections[".rodata"])
    assert len(content) <= rodata < len(content) + carray.ALIGN
    assert int(sections.get(".data", 0)) == 0 and int(sections.get(".bss", 0)) == 0
    headers = subprocess.run(
        [GCC.replace("gcc", "objdump"), "-h", str(obj)], check=True, capture_output=True, text=True
    ).stdout
    assert re.search(r"\.rodata\s+[0-9a-f]+(\s+[0-9a-f]+){3}\s+2\*\*4", headers)


@needs_gcc
def test_a_sketch_using_the_header_compiles(micro_files):
    work, _, _, _ = micro_files
    (work / "use.cc").write_text(
        '#include "model_data.h"\nint first() { return g_model[0] + kNumClasses + kLabels[0][0] + kInputZeroPoint; }\n'
    )
    subprocess.run(
        [GCC, "-mcpu=cortex-m4", "-mthumb", "-Os", "-c", str(work / "use.cc"), "-o", str(work / "use.o")],
        check=True,
        capture_output=True,
        text=True,
    )
