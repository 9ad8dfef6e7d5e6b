"""The conversion subprocess's calibration stream: the images the model sees, one at a time or in batches."""

import numpy as np

from sqz.export.onnx2tf_run import batches, float64_rows
from sqz.quantize.calibrate import calibration_pick, calibration_set


def test_streamed_batches_equal_the_normalised_set(small_dataset):
    pre = small_dataset.preprocess
    picked = calibration_pick(small_dataset.train.x, 50, seed=3)
    whole = calibration_set(small_dataset.train.x, pre, 50, seed=3)
    for rows in (1, 7, 64):
        streamed = np.concatenate(list(batches(picked, pre, rows)))
        assert streamed.dtype == np.float32 and np.array_equal(streamed, whole)


def test_float64_batches_shrink_with_the_image():
    assert float64_rows(32) == 32 and float64_rows(64) == 32
    assert float64_rows(96) == 14 and float64_rows(224) == 2 and float64_rows(1024) == 1
