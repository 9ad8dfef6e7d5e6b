"""`decode`, shared by training, calibration, evaluation and the board: EXIF orientation and float arrays."""

import numpy as np
from PIL import Image

from sqz.runtime.preprocess import Preprocess, decode, open_image

ORIENTATION = 0x0112


def _sideways_photo(path, upright: np.ndarray, orientation: int) -> None:
    """Store `upright` as a camera does: pixels rotated, plus the EXIF tag that says how to show them."""
    stored = {6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270, 3: Image.Transpose.ROTATE_180}
    image = Image.fromarray(upright).transpose(stored[orientation])
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    image.save(path, quality=100, exif=exif)


def test_exif_orientation_is_applied(tmp_path, fmnist):
    """A phone photo stored rotated (orientation 6, 8 or 3) decodes as it was taken, like the same picture
    stored upright; without the fix it came out sideways."""
    upright = np.kron(fmnist.test.x[0, :, :, 0], np.ones((2, 1), np.uint8))  # 56x28: not square
    pre = Preprocess(size=32, content=28, channels=1)
    Image.fromarray(upright).save(tmp_path / "upright.jpg", quality=100)
    want = decode(tmp_path / "upright.jpg", pre).astype(int)
    for orientation in (6, 8, 3):
        path = tmp_path / f"o{orientation}.jpg"
        _sideways_photo(path, upright, orientation)
        assert Image.open(path).getexif()[ORIENTATION] == orientation
        assert open_image(path).size == (28, 56)
        got = decode(str(path), pre).astype(int)
        raw = decode(np.asarray(Image.open(path).convert("L")), pre).astype(int)  # pixels as stored
        assert np.abs(got - want).mean() < 3, orientation
        assert np.abs(raw - want).mean() > 10, "the stored pixels really are turned"
    with Image.open(tmp_path / "o6.jpg") as im:
        assert np.array_equal(decode(im, pre), decode(tmp_path / "o6.jpg", pre)), "PIL images are turned too"


def test_float_arrays_in_0_1_are_scaled_once(fmnist):
    pre = Preprocess(size=32, content=28, channels=1)
    x = fmnist.test.x[:4]
    for img in x:
        assert np.array_equal(decode(img.astype(np.float32) / 255.0, pre), decode(img, pre))
