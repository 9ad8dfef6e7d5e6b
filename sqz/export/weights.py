"""`--weights int4|mixed`: 4-bit QAT before the int8 export, then the INT4 rewrite, checked and timed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from sqz.errors import InputError, ModelFileError
from sqz.export.int4 import filters, write_int4
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
        from sqz.targets.profiles import int4_refusal, lookup

        why = int4_refusal(lookup(target))
        if why:
            raise InputError(f"target {target}: {why}, so it cannot run INT4 weights; export with --weights int8")


def prepare(model, weights: str, train, pre, epochs: int, images: int, seed: int, log) -> tuple:
    """QAT `model` in place on 4-bit weights for the chosen convs; (model, record with names and sensitivity)."""
    n = min(images or len(train), len(train))
    pick = np.sort(np.random.default_rng(seed).permutation(len(train))[:n])
    x, y = as_images(train.take(pick), pre)  # uint8 until read: QAT at 224² on thousands of images
    sens = qat4.sensitivity(model, x[:SENSITIVITY_IMAGES])
    names = list(qat4.convs(model)) if weights == "int4" else qat4.choose_mixed(model, sens)
    log(f"INT4: {len(names)} of {len(sens)} convs at 4 bits; quantisation-aware fine-tuning, {epochs} epoch(s) "
        f"on {n:,} training images …")
    fill = torch.tensor([-m / s for m, s in zip(pre.mean, pre.std)])
    torch.manual_seed(seed)
    qat4.qat4(model, names, x, y, fill, epochs=epochs, seed=seed)
    return model, {"weights": weights, "layers": names, "qat_epochs": epochs, "qat_images": n,
                   "sensitivity": {k: round(v, 6) for k, v in sens.items()}}


def _positions(content: bytes, model, names: list[str]) -> set[int]:
    """CONV_2D positions in the .tflite holding the torch convs `names` (matched by shape and values)."""
    flt = filters(content)
    layers = qat4.convs(model)
    pos = set()
    for n in names:
        w = layers[n].weight.detach().permute(0, 2, 3, 1).numpy()
        same = [i for i, f in enumerate(flt) if f.shape == w.shape]
        if not same:
            raise ModelFileError(f"conv {n}: no CONV_2D of shape {w.shape} in the int8 model")
        pos.add(min(same, key=lambda i: float(np.abs(flt[i] - w).max())))
    return pos


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
def rewrite(int8_path: Path, model, record: dict, x_check: np.ndarray) -> Path:
    """Write model_<weights>.tflite beside `int8_path` with the QAT'd convs in INT4; fill `record` with its
    bytes, the int8 file's, agreement of both with torch on the 4-bit weights, and the XNNPACK latencies."""
    content = int8_path.read_bytes()
    pos = _positions(content, model, record["layers"])
    dst = int8_path.with_name(f"model_{record['weights']}.tflite")
    write_int4(int8_path, dst, pos)
    ref = model(torch.from_numpy(x_check)).numpy()
    check = {}
    for name, path in (("int8", int8_path), ("int4", dst)):
        z = TFLiteSession(path).run(x_check)
        check[name] = {"top1_agreement": float((z.argmax(1) == ref.argmax(1)).mean()),
                       "max_abs_diff": float(np.abs(z - ref).max())}
    if check["int4"]["top1_agreement"] < check["int8"]["top1_agreement"] - 0.02:
        raise ModelFileError(f"{dst.name}: disagrees with torch on its own 4-bit weights "
                             f"({check['int4']['top1_agreement']:.1%} top-1 vs int8 {check['int8']['top1_agreement']:.1%})")
    ms8, ms4 = latency([int8_path, dst], x_check)
    record.update(conv_positions=sorted(pos), int8_bytes=int8_path.stat().st_size, bytes=dst.stat().st_size,
                  reference=check, checked_images=int(len(x_check)),
                  latency_ms={"int8": ms8, "int4": ms4, "ratio": round(ms4 / ms8, 2),
                              "interpreter": "ai-edge-litert (XNNPACK), 1 thread, batch 1, median"})
    record["bytes_saved"] = record["int8_bytes"] - record["bytes"]
    return dst
