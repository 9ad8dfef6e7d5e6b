"""Where int8 calibration images come from: `--calib-data DIR`, else the run's stored sample
(calibration.npz, so exports repeat without the data), else the training data itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sqz.errors import InputError
from sqz.quantize.calibrate import folder_images
from sqz.runtime.manifest import sha256
from sqz.runtime.preprocess import Preprocess
from sqz.train import calibsample, folder, rundata
from sqz.train.data import load as load_data


def calibration_pool(
    ckpt: Path, payload: dict, pre: Preprocess, n: int, calib_data: str | None, data: str | None, seed: int = 0
) -> tuple[np.ndarray, str]:
    """uint8 images (N, content, content, C) to draw `n` calibration images from, and where they came from."""
    run_dir = Path(ckpt).parent
    if calib_data:
        return folder_images(Path(calib_data), pre, n, seed), f"images from {calib_data}"
    stored = calibsample.read(run_dir, pre)
    if stored is not None:
        path = run_dir / calibsample.SAMPLE_FILE
        return stored[0], f"the run's stored sample {path} (sha256 {sha256(path)})"
    cfg = rundata.config(payload)
    spec, path = rundata.training_data(payload, run_dir, data)
    if path is None:
        raise InputError(
            f"no calibration images: {run_dir} holds no {calibsample.SAMPLE_FILE} and the training "
            f"data {spec} is gone; give --calib-data DIR (any folder of images) or --data"
        )
    if Path(path).is_dir():
        listed = folder.index(
            Path(path), cfg.get("seed", 0), size=pre.content, channels=pre.channels, resize=pre.resize
        )
        return calibsample.from_items(listed.train, pre, n, seed)[0], "training images"
    return load_data(path, seed=cfg.get("seed", 0), preprocess=pre).train.x, "training images"


def training_split(ckpt: Path, payload: dict, pre: Preprocess, data: str | None):
    """The run's labelled training images, decoded as `pre` says (4-bit fine-tuning needs labels, so the
    stored calibration sample is not enough); InputError when the training data is gone."""
    spec, path = rundata.training_data(payload, Path(ckpt).parent, data)
    if path is None:
        raise InputError(f"--weights int4/mixed fine-tunes on the training data, and {spec} is gone; give --data DIR")
    return load_data(path, seed=rundata.config(payload).get("seed", 0), preprocess=pre).train
