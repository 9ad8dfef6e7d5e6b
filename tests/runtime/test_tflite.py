import numpy as np

from sqz.runtime.tflite import quantize_input


def test_quantize_input_rounds_offsets_and_clips_to_the_tensor_dtype():
    x = np.array([-100.0, 0.0, 0.26, 100.0], np.float32)
    q = quantize_input(x, {"dtype": np.int8, "quantization": (0.5, -3)})
    assert q.dtype == np.int8 and q.tolist() == [-128, -3, -2, 127]
    u = quantize_input(x, {"dtype": np.uint8, "quantization": (0.5, 10)})
    assert u.dtype == np.uint8 and u.tolist() == [0, 10, 11, 210]
    assert quantize_input(x, {"dtype": np.float32, "quantization": (0.0, 0)}) is x
