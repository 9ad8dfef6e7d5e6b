import numpy as np
import pytest
from PIL import Image

from sqz.train import data, folder
from sqz.train.stats import channel_stats

# Every image: red 200 | 100 (left | right), green 77 over 13 (top / bottom), blue a 0/255 checkerboard.
MEAN = (150 / 255, 45 / 255, 0.5)
STD = (50 / 255, 32 / 255, 0.5)


def _image(side: int = 96) -> np.ndarray:
    img = np.zeros((side, side, 3), np.uint8)
    img[:, : side // 2, 0], img[:, side // 2 :, 0] = 200, 100
    img[: side // 2, :, 1], img[side // 2 :, :, 1] = 77, 13
    img[..., 2] = np.indices((side, side)).sum(0) % 2 * 255
    return img


@pytest.fixture(scope="module")
def known_folder(tmp_path_factory):
    """300 lossless RGB images (2.8 M pixels per channel) whose statistics are exactly MEAN and STD."""
    root = tmp_path_factory.mktemp("known") / "rgb"
    img = Image.fromarray(_image())
    for i in range(300):
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        img.save(root / f"c{i % 2}" / f"{i:03d}.png")
    return root


def test_float32_accumulation_drifts_on_this_set():
    """The set is large enough that the old float32 reduction misses the exact std by more than 5e-6."""
    x = np.broadcast_to(_image(), (255, 96, 96, 3)).astype(np.float32) / 255.0
    assert abs(float(x.std(axis=(0, 1, 2))[0]) - STD[0]) > 5e-6


def test_channel_stats_are_exact():
    mean, std = channel_stats([np.broadcast_to(_image(), (255, 96, 96, 3))])
    assert mean == pytest.approx(MEAN, rel=1e-12, abs=1e-12)
    assert std == pytest.approx(STD, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("reader", ["stream", "memory"])
def test_folder_statistics_are_exact(known_folder, reader):
    pre = (
        folder.index(known_folder).preprocess if reader == "stream" else data.load_image_folder(known_folder).preprocess
    )
    assert pre.channels == 3 and pre.size == 96
    assert pre.mean == pytest.approx(MEAN, rel=1e-12, abs=1e-12)
    assert pre.std == pytest.approx(STD, rel=1e-12, abs=1e-12)
