import numpy as np

from sqz.runtime.preprocess import Preprocess
from sqz.train import calibsample


def test_the_sample_is_stratified_by_class_and_reproducible():
    y = np.array([0] * 900 + [1] * 90 + [2] * 10)
    idx = calibsample.stratified(y, 30, seed=3)
    assert np.array_equal(idx, calibsample.stratified(y, 30, seed=3))
    assert np.bincount(y[idx]).tolist() == [10, 10, 10]
    idx = calibsample.stratified(y, 200, seed=3)
    assert np.bincount(y[idx]).tolist() == [100, 90, 10]


def test_the_stored_sample_reads_back_only_for_the_same_input(tmp_path):
    pre = Preprocess(size=32, content=28, channels=1)
    x = np.random.default_rng(0).integers(0, 256, (40, 28, 28, 1), dtype=np.uint8)
    y = np.arange(40) % 4
    path = calibsample.write(tmp_path, *calibsample.from_arrays(x, y, n=12), pre)
    assert path.name == "calibration.npz" and not list(tmp_path.glob(".*.tmp"))
    got_x, got_y = calibsample.read(tmp_path, pre)
    assert got_x.dtype == np.uint8 and got_x.shape == (12, 28, 28, 1) and np.bincount(got_y).tolist() == [3] * 4
    assert calibsample.read(tmp_path, Preprocess(size=64, content=64, channels=3)) is None
    assert calibsample.read(tmp_path / "elsewhere", pre) is None
