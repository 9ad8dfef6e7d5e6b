"""The Preprocess `resize` modes on a non-square image, and records written before the field existed."""

import numpy as np
import pytest
from PIL import Image

from sqz.errors import InputError
from sqz.runtime.preprocess import Preprocess, decode

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _stripes(width=80, height=40, portrait=False) -> Image.Image:
    """Red left quarter, green middle half, blue right quarter (turned upright for `portrait`)."""
    a = np.zeros((height, width, 3), np.uint8)
    a[:, : width // 4] = RED
    a[:, width // 4 : 3 * width // 4] = GREEN
    a[:, 3 * width // 4 :] = BLUE
    return Image.fromarray(a.transpose(1, 0, 2).copy() if portrait else a)


def _pre(resize: str) -> Preprocess:
    return Preprocess(size=10, content=10, channels=3, mean=(0.5,) * 3, std=(0.25,) * 3, resize=resize)


def test_crop_keeps_the_centre_square_at_the_aspect_ratio():
    for portrait in (False, True):
        out = decode(_stripes(portrait=portrait), _pre("crop")).astype(int)
        assert out.shape == (10, 10, 3)
        assert (out[..., 1] > out[..., 0]).all() and (out[..., 1] > out[..., 2]).all()
        core = out[2:8, 2:8] if portrait else out[:, 2:8]
        assert (core == GREEN).all()


def test_squash_stretches_the_whole_image():
    out = decode(_stripes(), _pre("squash")).astype(int)
    assert (out[:, 0] == RED).all() and (out[:, -1] == BLUE).all() and (out[:, 4:6] == GREEN).all()


def test_pad_letterboxes_the_whole_image_on_black():
    out = decode(_stripes(), _pre("pad")).astype(int)
    assert (out[:2] == 0).all() and (out[7:] == 0).all()
    assert (out[2:7, 0] == RED).all() and (out[2:7, -1] == BLUE).all() and (out[2:7, 4:6] == GREEN).all()
    tall = decode(_stripes(portrait=True), _pre("pad")).astype(int)
    assert (tall[:, :2] == 0).all() and (tall[:, 7:] == 0).all() and (tall[0, 2:7] == RED).all()


def test_square_images_are_the_same_in_every_mode():
    square = _stripes(width=40, height=40)
    outs = [decode(square, _pre(mode)) for mode in ("crop", "squash", "pad")]
    assert np.array_equal(outs[0], outs[1]) and np.array_equal(outs[1], outs[2])


def test_records_without_resize_keep_squashing():
    old = {"size": 10, "content": 10, "channels": 3, "mean": [0.5] * 3, "std": [0.25] * 3}
    pre = Preprocess.from_dict(old)
    assert pre.resize == "squash" and Preprocess.from_dict(pre.to_dict()) == pre
    before = np.asarray(_stripes().resize((10, 10), Image.BILINEAR))
    assert np.array_equal(decode(_stripes(), pre), before)
    with pytest.raises(InputError, match="not one of crop, squash, pad"):
        Preprocess.from_dict({**old, "resize": "zoom"})


def test_the_bundled_checkpoint_loads_as_squash():
    from pathlib import Path

    from sqz.train import checkpoint

    _, payload = checkpoint.load(Path(__file__).parents[2] / "sqz" / "models" / "fashion_mnist_1.1.pt")
    assert "resize" not in payload["preprocess"]
    assert Preprocess.from_dict(payload["preprocess"]).resize == "squash"
