"""`python -m sqz.export.onnx2tf_run [--calib U8.npy PRE.json per-channel|per-tensor mse|minmax] -- ONNX2TF_ARGS`:
onnx2tf to float32, then one full-int8 conversion of its SavedModel, calibrated on uint8 images normalised
one at a time, with every range recomputed in float64 under the given rule.

onnx2tf's own `-oiqt` builds five quantised variants (each calibrated, each recalibrated here) and needs
the whole normalised float32 set in memory; sqz needs one, and streams. TensorFlow's calibrator gives
CPU-dependent float32 ranges; `sqz.quantize.ranges` replaces them (see there).
It also turns off onnx2tf 1.29.24's Add "rescue guard", which breaks every bypass (see `_keep_add_layout`),
and keeps the zero padding of ceil-mode pools that `-oiqt` gave (see `_zero_pad_pools`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator

import numpy as np

INT8_NAME = "model_full_integer_quant.tflite"


def batches(images: np.ndarray, pre, rows: int = 1) -> Iterator[np.ndarray]:
    """`images` (uint8, N×content×content×C) normalised as the model sees them, NHWC float32, `rows` at a time."""
    from sqz.runtime.preprocess import normalize

    for i in range(0, len(images), rows):
        yield normalize(np.asarray(images[i:i + rows]), pre).transpose(0, 2, 3, 1)


def float64_rows(size: int) -> int:
    """Images per float64 evaluation batch: 32 up to 64², fewer above so activations stay near 100 MB."""
    return max(1, min(32, 32 * 64 * 64 // (size * size)))


def _patch(images: np.ndarray, pre, rule: str) -> None:
    """Make TensorFlow's calibrator return float64 ranges over `images` under `rule` (`sqz.quantize.ranges`)."""
    from tensorflow.lite.python.optimize import calibrator

    from sqz.quantize.ranges import Unsupported, recalibrate

    original = calibrator.Calibrator.calibrate

    def calibrate(self, dataset_gen):
        stats = original(self, dataset_gen)
        try:
            return recalibrate(stats, self._model_content, lambda: batches(images, pre, float64_rows(pre.size)), rule)
        except Unsupported as exc:
            print(f"sqz: float64 calibration cannot evaluate {exc}; TensorFlow's float32 ranges kept "
                  "(the int8 bytes may then differ between CPUs)", file=sys.stderr)
            return stats

    calibrator.Calibrator.calibrate = calibrate


def full_int8(saved_model: Path, images: np.ndarray, pre, per_channel: bool = True, rule: str = "mse") -> bytes:
    """The full-integer (int8 in, int8 out) TFLite of `saved_model`, calibrated on `images` with the
    activation-range `rule`."""
    import tensorflow as tf

    from sqz.export.onnx import INPUT  # the one input sqz's ONNX export names, kept by onnx2tf (-coion)

    _patch(images, pre, rule)

    def representative():
        for x in batches(images, pre):
            yield {INPUT: tf.convert_to_tensor(x)}

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.SELECT_TF_OPS]
    converter._experimental_disable_per_channel = not per_channel
    converter.representative_dataset = representative
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def _keep_add_layout() -> None:
    """onnx2tf 1.29.24's Add compares its NHWC result with the ONNX (NCHW) output shape, finds them unequal
    whenever channels != height, and "rescues" the sum by transposing both inputs to NCHW, which breaks the
    next layer of every SqueezeNet bypass. That transpose is used only there: an identity turns the rescue off."""
    import onnx2tf.ops.Add as add_op

    add_op.transpose_with_flexing_deterrence = lambda input_tensor, perm, **kwargs: input_tensor


def _zero_pad_pools() -> None:
    """onnx2tf pads a ceil-mode max-pool with float32's minimum, except when it writes int8 files (`-oiqt`),
    where it pads with 0: the minimum breaks int8 quantisation (XNNPACK then refuses the model). sqz no longer
    passes `-oiqt`, so it asks for the 0 padding itself; exact here, where every pool follows a ReLU."""
    import onnx2tf.ops.MaxPool as pool_op

    make_node = pool_op.make_node

    def zero_padded(*args, **kwargs):
        return make_node(*args, **{**kwargs, "output_integer_quantized_tflite": True})

    pool_op.make_node = zero_padded


def main(argv: list[str]) -> None:
    _keep_add_layout()
    _zero_pad_pools()
    calib = None
    if argv[:1] == ["--calib"]:
        calib, pre_json, per_channel, rule, argv = argv[1], argv[2], argv[3] == "per-channel", argv[4], argv[5:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    from onnx2tf import main as onnx2tf_main

    sys.argv = ["onnx2tf", *argv]
    onnx2tf_main()
    if calib is not None:
        from sqz.runtime.preprocess import Preprocess

        pre = Preprocess.from_dict(json.loads(Path(pre_json).read_text()))
        out = Path(argv[argv.index("-o") + 1])
        data = full_int8(out, np.load(calib, mmap_mode="r"), pre, per_channel, rule)
        (out / INT8_NAME).write_bytes(data)


if __name__ == "__main__":
    main(sys.argv[1:])
