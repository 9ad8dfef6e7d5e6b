"""The one preprocessing definition: what training saw is exactly what the board sees."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from sqz.errors import InputError

RESIZE_MODES = ("crop", "squash", "pad")


@dataclass(frozen=True)
class Preprocess:
    """Fit to `content`² (bilinear; `resize`: crop = shorter side to `content` then centre crop, squash =
    stretch, pad = longer side to `content` then centred on black), zero-pad centred to `size`², scale to
    [0, 1], normalise. A record without `resize` reads as squash."""

    size: int = 32
    content: int = 28
    channels: int = 1
    mean: tuple[float, ...] = (0.2860,)
    std: tuple[float, ...] = (0.3530,)
    resize: str = "squash"

    def __post_init__(self) -> None:
        if self.resize not in RESIZE_MODES:
            raise InputError(f"resize {self.resize!r}: use one of {', '.join(RESIZE_MODES)}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocess":
        resize = str(d.get("resize", "squash"))
        if resize not in RESIZE_MODES:
            raise InputError(f"preprocess resize {resize!r} is not one of {', '.join(RESIZE_MODES)}")
        return cls(
            size=int(d["size"]),
            content=int(d["content"]),
            channels=int(d["channels"]),
            mean=tuple(float(v) for v in d["mean"]),
            std=tuple(float(v) for v in d["std"]),
            resize=resize,
        )


def open_image(path):
    """The image in file `path`, loaded and turned upright by its EXIF orientation (a phone photo stored
    rotated comes out as it was taken)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            return upright(im)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        raise InputError(
            f"{path}: not a readable image ({exc.__class__.__name__}); give a PNG, JPEG or other file PIL can open"
        ) from None


def upright(image):
    """A copy of a PIL image with its EXIF orientation applied (and the tag removed)."""
    from PIL import ImageOps

    return ImageOps.exif_transpose(image) or image.copy()


def decode(source, pre: Preprocess) -> np.ndarray:
    """An image path, PIL image or array → uint8 array (content, content, channels), EXIF orientation applied."""
    if isinstance(source, (str, Path)):
        image = open_image(source)
    elif isinstance(source, np.ndarray):
        image = _array_to_pil(source)
    else:
        image = upright(source)
    image = _fit(_to_mode(image, pre.channels), pre.content, pre.resize)
    arr = np.asarray(image, dtype=np.uint8)
    return arr.reshape(pre.content, pre.content, pre.channels)


def _fit(image, side: int, resize: str):
    """`image` as side x side: stretched (squash), shorter side fitted and centre-cropped (crop), or longer
    side fitted and centred on black (pad)."""
    from PIL import Image

    w, h = image.size
    if (w, h) == (side, side):
        return image
    if resize == "squash" or w == h:
        return image.resize((side, side), Image.BILINEAR)
    scale = side / (min(w, h) if resize == "crop" else max(w, h))
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    image = image.resize((nw, nh), Image.BILINEAR)
    if resize == "crop":
        left, top = (nw - side) // 2, (nh - side) // 2
        return image.crop((left, top, left + side, top + side))
    canvas = Image.new(image.mode, (side, side))
    canvas.paste(image, ((side - nw) // 2, (side - nh) // 2))
    return canvas


def _array_to_pil(a: np.ndarray):
    from PIL import Image

    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.dtype != np.uint8:
        if a.dtype.kind == "f" and a.size and a.max() <= 1.0:
            a = a * 255.0
        a = np.rint(np.clip(a, 0, 255)).astype(np.uint8)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise InputError(f"image array of shape {a.shape} is not HxW, HxWx1, HxWx3 or HxWx4")
    return Image.fromarray(a)


def _to_mode(image, channels: int):
    """Grey or RGB, flattening alpha onto black and 16-bit / palette images to 8 bits."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(image, dtype=np.float64)
        peak = a.max() if a.size and a.max() > 255 else 255.0
        image = Image.fromarray(np.clip(a / peak * 255.0, 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(black, rgba)
    return image.convert("L" if channels == 1 else "RGB")


def normalize(batch: np.ndarray, pre: Preprocess) -> np.ndarray:
    """uint8 (N, content, content, C) → float32 (N, C, size, size), padded and normalised."""
    if batch.ndim == 3:
        batch = batch[..., None]
    n, h, w, c = batch.shape
    if (h, w, c) != (pre.content, pre.content, pre.channels):
        raise InputError(
            f"expected images of {pre.content}x{pre.content}x{pre.channels}, "
            f"got {h}x{w}x{c}; decode them with the model's preprocessing first"
        )
    out = np.zeros((n, pre.size, pre.size, c), dtype=np.float32)
    top = (pre.size - pre.content) // 2
    np.divide(batch, np.float32(255.0), out=out[:, top : top + h, top : top + w, :], dtype=np.float32)
    out -= np.asarray(pre.mean, np.float32)
    out /= np.asarray(pre.std, np.float32)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))
