"""Augmentation that keeps the label: the crop's reach follows the input size, mirroring only when asked."""

import numpy as np
import pytest
from PIL import Image

from sqz.train import augment, stream
from sqz.train.folder import index


def test_crop_scale_keeps_more_of_a_small_image():
    assert augment.crop_scale(28) == (augment.CROP_SCALE_SMALL, 1.0)
    assert augment.crop_scale(224) == (augment.CROP_SCALE_LARGE, 1.0)
    mins = [augment.crop_scale(s)[0] for s in (24, 32, 48, 64, 96, 128, 224)]
    assert mins == sorted(mins, reverse=True) and len(set(mins)) > 3
    assert augment.crop_pad(28) == augment.crop_pad(32) == 2 and augment.crop_pad(224) == 14


def test_random_resized_crop_stays_within_its_scale():
    image = Image.new("RGB", (40, 40))
    rng = np.random.default_rng(0)
    low = augment.crop_scale(32)[0]
    areas = [np.prod(augment.random_resized_crop(image, rng, (low, 1.0)).size) / 1600 for _ in range(300)]
    assert min(areas) >= low - 0.05 and max(areas) <= 1.0


def _halves(tmp_path, side=32):
    """Two class folders of RGB images: red on the left half, blue on the right."""
    x = np.zeros((side, side, 3), np.uint8)
    x[:, : side // 2, 0] = 255
    x[:, side // 2 :, 2] = 255
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for k in range(3):
            Image.fromarray(x).save(tmp_path / c / f"{k}.png")
    return index(tmp_path)


@pytest.mark.parametrize("flip", [False, True])
def test_mirroring_happens_only_when_asked(tmp_path, flip, monkeypatch):
    folder = _halves(tmp_path)
    scales = []
    real = stream.random_resized_crop
    monkeypatch.setattr(
        stream, "random_resized_crop", lambda im, rng, scale: scales.append(scale) or real(im, rng, scale)
    )
    items = stream.FolderImages(folder.train, folder.preprocess, resized_crop=True, flip=flip, seed=0)
    mirrored = 0
    for epoch in range(40):
        x = items[(epoch, 0)][0].astype(int)
        left, right = x[:, : x.shape[1] // 2], x[:, x.shape[1] // 2 :]
        mirrored += left[..., 2].mean() > right[..., 2].mean()  # blue on the left: mirrored
    assert set(scales) == {augment.crop_scale(folder.preprocess.size)}
    assert (mirrored > 5) if flip else (mirrored == 0), mirrored


def test_mirroring_is_off_by_default_and_recorded(tmp_path):
    from sqz.train.loop import TrainConfig
    from sqz.train.record import augmentation

    folder = _halves(tmp_path)
    src = stream.FolderSource(folder, seed=0, val_fraction=0, limit=0, workers=0)
    assert TrainConfig().flip is False and src.flip is False
    assert augmentation(TrainConfig(), src) == {"kind": "resized-crop", "crop_scale": [0.75, 1.0], "flip": False}
    assert augmentation(TrainConfig(flip=True), src)["flip"] is True
