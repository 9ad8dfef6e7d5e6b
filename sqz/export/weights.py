"""`--weights int4|mixed`: 4-bit QAT before the int8 export, then the INT4 file checked against torch and timed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from sqz.errors import InputError, ModelFileError
from sqz.quantize import qat4
from sqz.runtime.tflite import TFLiteSession
from sqz.train.memory import as_images

WEIGHTS = ("int8", "int4", "mixed")
SENSITIVITY_IMAGES = 512
LATENCY_BUDGET_S = 0.4


def check_request(weights: str, int8: bool, target: str | None) -> None:
    """InputError (one line) when `weights` cannot be written: unknown, no --int8, or the target cannot run INT4."""
    if weights not in WEIGHTS:
        raise InputError(f"--weights {weights!r}: choose one of {', '.join(WEIGHTS)}")
    if weights == "int8":
        return
    if not int8:
        raise InputError(f"--weights {weights} rewrites the full-int8 model; add --int8")
    if target:
        from sqz.targets.profiles import get, int4_refusal

        why = int4_refusal(get(target))
        if why:
            raise InputError(f"target {target}: {why}, so it cannot run INT4 weights; export with --weights int8")


def prepare(model, weights: str, train, pre, epochs: int, images: int, seed: int, log, flip: bool = False) -> tuple:
    """QAT `model` in place on 4-bit weights for the chosen convs, mirroring images only when `flip` (as the run
    trained); (model, record with names, sensitivity and whether QAT mirrored)."""
    n = min(images or len(train), len(train))
    pick = np.sort(np.random.default_rng(seed).permutation(len(train))[:n])
    x, y = as_images(train.take(pick), pre)  # uint8 until read: QAT at 224² on thousands of images
    sens = qat4.sensitivity(model, x[:SENSITIVITY_IMAGES])
    names = list(qat4.convs(model)) if weights == "int4" else qat4.choose_mixed(model, sens)
    log(
        f"INT4: {len(names)} of {len(sens)} convs at 4 bits; quantisation-aware fine-tuning, {epochs} epoch(s) "
        f"on {n:,} training images …"
    )
    fill = torch.tensor([-m / s for m, s in zip(pre.mean, pre.std)])
    torch.manual_seed(seed)
    qat4.qat4(model, names, x, y, fill, epochs=epochs, seed=seed, flip=flip)
    return model, {
        "weights": weights,
        "layers": names,
        "qat_epochs": epochs,
        "qat_images": n,
        "qat_flip": flip,
        "sensitivity": {k: round(v, 6) for k, v in sens.items()},
    }


def latency(paths: list[Path], x: np.ndarray, budget_s: float = LATENCY_BUDGET_S) -> list[float]:
    """Median batch-1 ms of each file on ai-edge-litert's default path (XNNPACK), interleaved, in `budget_s`."""
    sessions = [TFLiteSession(p, threads=1) for p in paths]
    for s in sessions:
        s.run(x[:1])
    times: list[list[float]] = [[] for _ in sessions]
    end = time.perf_counter() + budget_s
    while time.perf_counter() < end or len(times[0]) < 5:
        for s, t in zip(sessions, times):
            t0 = time.perf_counter()
            s.run(x[:1])
            t.append(time.perf_counter() - t0)
    return [round(1e3 * float(np.median(t)), 4) for t in times]


@torch.no_grad()
def check(int8_path: Path, int4_path: Path, model, record: dict, x_check: np.ndarray) -> None:
    """Fill `record` with both files' bytes, their agreement with torch on the 4-bit weights and their XNNPACK
    latencies; refuse an INT4 file that disagrees with torch much more than the int8 one."""
    ref = model(torch.from_numpy(x_check)).numpy()
    found = {}
    for name, path in (("int8", int8_path), ("int4", int4_path)):
        z = TFLiteSession(path).run(x_check)
        found[name] = {
            "top1_agreement": float((z.argmax(1) == ref.argmax(1)).mean()),
            "max_abs_diff": float(np.abs(z - ref).max()),
        }
    if found["int4"]["top1_agreement"] < found["int8"]["top1_agreement"] - 0.02:
        raise ModelFileError(
            f"{int4_path.name}: disagrees with torch on its own 4-bit weights "
            f"({found['int4']['top1_agreement']:.1%} top-1 vs int8 {found['int8']['top1_agreement']:.1%})"
        )
    ms8, ms4 = latency([int8_path, int4_path], x_check)
    record.update(
        int8_bytes=int8_path.stat().st_size,
        bytes=int4_path.stat().st_size,
        reference=found,
        checked_images=int(len(x_check)),
        latency_ms={
            "int8": ms8,
            "int4": ms4,
            "ratio": round(ms4 / ms8, 2),
            "interpreter": "ai-edge-litert (XNNPACK), 1 thread, batch 1, median",
        },
    )
    record["bytes_saved"] = record["int8_bytes"] - record["bytes"]
