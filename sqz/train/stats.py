"""Per-channel normalisation statistics of uint8 images, from exact integer sums (no float32 drift)."""

from __future__ import annotations

from typing import Iterable

import numpy as np

CHUNK = 256
MIN_STD = 1e-3


def channel_stats(images: Iterable[np.ndarray]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per channel of 0..1-scaled pixels over uint8 images (each HWC or NHWC, same channels).

    Sums of pixels and of their squares are kept as exact integers, so the result is the float64 rounding
    of the exact statistics however many pixels there are; std is at least 1e-3.
    """
    s1 = s2 = n = 0
    for image in images:
        a = np.asarray(image)
        flat = a.reshape(-1, a.shape[-1])
        for i in range(0, len(flat), CHUNK * 1024):
            part = flat[i : i + CHUNK * 1024].astype(np.int64)
            s1 = s1 + part.sum(axis=0)
            s2 = s2 + (part * part).sum(axis=0)
        n += len(flat)
    if not n:
        raise ValueError("channel_stats of no pixels")
    mean = tuple(int(s) / (255 * n) for s in s1)
    var = ((n * int(q) - int(s) * int(s)) / (255 * 255 * n * n) for s, q in zip(s1, s2))
    return mean, tuple(max(MIN_STD, float(np.sqrt(v))) for v in var)
