import numpy as np
import pytest

from sqz.errors import InputError
from sqz.quantize.calibrate import calibration_set


def test_calibration_uses_real_images_preprocessed_as_in_training(small_dataset):
    pre = small_dataset.preprocess
    a = calibration_set(small_dataset.train.x, pre, 50, seed=1)
    b = calibration_set(small_dataset.train.x, pre, 50, seed=1)
    assert a.shape == (50, 32, 32, 1) and a.dtype == np.float32 and np.array_equal(a, b)
    black = -pre.mean[0] / pre.std[0]
    assert np.allclose(a[:, :2], black) and a.max() > 1.0
    with pytest.raises(InputError):
        calibration_set(small_dataset.train.x, pre, 0)
