import numpy as np
import pytest
from PIL import Image

from sqz.errors import InputError
from sqz.export.calibsource import calibration_pool
from sqz.quantize.calibrate import folder_images
from sqz.runtime.preprocess import Preprocess
from sqz.train import calibsample

PRE = Preprocess(size=16, content=16, channels=3, resize="crop")


def _images(root, n):
    rng = np.random.default_rng(0)
    (root / "a" / "b").mkdir(parents=True)
    for k in range(n):
        Image.fromarray(rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)).save(root / "a" / "b" / f"{k}.jpg")
    (root / "a" / "broken.png").write_bytes(b"not an image")
    return root


def test_any_folder_of_images_calibrates_unreadable_files_passed_over(tmp_path):
    x = folder_images(_images(tmp_path / "any", 7), PRE, 100)
    assert x.shape == (7, 16, 16, 3) and x.dtype == np.uint8
    with pytest.raises(InputError, match="not a directory"):
        folder_images(tmp_path / "any" / "a" / "broken.png", PRE, 5)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_bytes(b"nope")
    with pytest.raises(InputError, match="no readable images"):
        folder_images(tmp_path / "bad", PRE, 5)


def test_the_stored_sample_is_preferred_and_export_needs_no_training_data(tmp_path):
    run = tmp_path / "run"
    x = np.full((10, 16, 16, 3), 7, np.uint8)
    calibsample.write(run, x, np.arange(10) % 2, PRE)
    payload = {"record": {"config": {"data": str(tmp_path / "gone")}}}
    pool, source = calibration_pool(run / "model.pt", payload, PRE, 500, None, None)
    assert np.array_equal(pool, x) and "calibration.npz" in source
    pool, source = calibration_pool(run / "model.pt", payload, PRE, 3, str(_images(tmp_path / "c", 5)), None)
    assert len(pool) == 3 and "images from" in source
    (run / "calibration.npz").unlink()
    with pytest.raises(InputError, match="--calib-data"):
        calibration_pool(run / "model.pt", payload, PRE, 500, None, None)
