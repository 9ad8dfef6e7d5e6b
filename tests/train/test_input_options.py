"""`--size`, `--channels`, `--resize`: recorded in the checkpoint's Preprocess and used by export's data loading."""

import numpy as np
import pytest
from PIL import Image

from sqz.errors import InputError
from sqz.runtime.preprocess import Preprocess, decode
from sqz.train import checkpoint
from sqz.train.data import load
from sqz.train.loop import TrainConfig, train


def _folder(root):
    """Two classes of non-square RGB photos, landscape and portrait."""
    rng = np.random.default_rng(0)
    for c, colour in enumerate(((200, 40, 40), (40, 40, 200))):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(8):
            w, h = (60, 40) if i % 2 else (40, 70)
            a = np.clip(rng.normal(0, 30, (h, w, 3)) + colour, 0, 255).astype(np.uint8)
            Image.fromarray(a).save(root / f"class{c}" / f"{i}.png")
    return root


def test_size_channels_and_resize_reach_the_checkpoint_and_export_decoding(tmp_path):
    data = _folder(tmp_path / "photos")
    train(
        TrainConfig(
            data=str(data),
            out=str(tmp_path / "run"),
            epochs=1,
            batch_size=4,
            workers=0,
            size=32,
            channels=1,
            resize="pad",
        ),
        progress=False,
    )
    _, payload = checkpoint.load(tmp_path / "run" / "model.pt")
    pre = Preprocess.from_dict(payload["preprocess"])
    assert (pre.size, pre.content, pre.channels, pre.resize) == (32, 32, 1, "pad")
    assert payload["record"]["config"]["resize"] == "pad"
    ds = load(str(data), preprocess=pre)
    first = sorted((data / "class0").iterdir())[0]
    assert ds.preprocess.resize == "pad" and ds.train.x.shape[1:] == (32, 32, 1)
    assert any(np.array_equal(x, decode(first, pre)) for x in np.concatenate([ds.train.x, ds.test.x]))
    assert (decode(first, pre)[:, :4] == 0).all()  # portrait 40x70 letterboxed: black columns left


def test_folders_default_to_crop_and_old_loading_is_unchanged(tmp_path):
    data = _folder(tmp_path / "photos")
    assert load(str(data)).preprocess.resize == "crop"
    squash = Preprocess(size=32, content=32, channels=3, resize="squash")
    x = load(str(data), preprocess=squash)
    assert x.preprocess.resize == "squash" and x.train.x.shape[1:] == (32, 32, 3)


def test_size_on_fixed_size_arrays_is_refused(tmp_path, small_dataset):
    with pytest.raises(InputError, match="apply to image folders"):
        train(TrainConfig(out=str(tmp_path / "run"), epochs=1, size=64), dataset=small_dataset, progress=False)
    with pytest.raises(InputError, match="use one of crop, squash, pad"):
        Preprocess(resize="zoom")


def test_arrays_load_with_the_checkpoints_channels(tmp_path):
    rng = np.random.default_rng(1)
    grey = rng.integers(0, 256, (20, 24, 24), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=grey, y=np.arange(20) % 2)
    rgb = load(str(tmp_path / "d.npz"), preprocess=Preprocess(size=28, content=24, channels=3))
    plain = load(str(tmp_path / "d.npz"))
    assert rgb.preprocess.channels == 3 and rgb.train.x.shape[1:] == (24, 24, 3)
    assert np.array_equal(rgb.train.x[..., 1], plain.train.x[..., 0])
