"""`sqz-export`: checkpoint → ONNX and TFLite (float32, full int8, written by sqz) → manifest + report, atomically."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from sqz import __version__
from sqz.errors import DatasetError, InputError
from sqz.export import micro
from sqz.export import report as report_mod
from sqz.export import weights as weights_mod
from sqz.export.calibsource import calibration_pool, training_split
from sqz.export.config import ExportConfig
from sqz.export.evalset import EvalSet, open_eval
from sqz.export.onnx import chunk, export_onnx, parity
from sqz.export.report import ExportReport
from sqz.export.shrink import pack_artifact
from sqz.export.tflite import convert
from sqz.files import write_text
from sqz.fit import routes
from sqz.gate import METRICS, judge
from sqz.quantize.calibrate import calibration_pick
from sqz.runtime import manifest
from sqz.runtime.model import Model, open_session
from sqz.runtime.preprocess import Preprocess, normalize
from sqz.runtime.signals import held
from sqz.train import checkpoint, confusion, rundata
from sqz.train.surgery import fold_batchnorm, remove_dead_taps

DEFAULT_CHECKPOINT = "fashion_mnist_1.1.pt"
PROBE = 256
PROBE_BYTES = 24 * 2**20


def default_checkpoint() -> Path:
    """The checkpoint shipped inside the package (trained by `make default-model`)."""
    return Path(str(resources.files("sqz") / "models" / DEFAULT_CHECKPOINT))


@contextmanager
def staging(out: Path):
    """A temp directory inside `out`; files are renamed into `out` only when all succeeded."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".sqz-staging-", dir=out))
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write there ({exc.strerror})") from None
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float((logits.argmax(1) == y).mean())


def _timed(timings: dict, key: str):
    class _T:
        def __enter__(self):
            self.t = time.perf_counter()

        def __exit__(self, *exc):
            timings[key] = round(time.perf_counter() - self.t, 3)

    return _T()


def export(
    ckpt: Path | None = None,
    out: Path = Path("exports/default"),
    config: ExportConfig | None = None,
    log=print,
    **options,
) -> ExportReport:
    """Export a checkpoint as `config` says (`options`: ExportConfig fields given one by one instead, or
    replacing those of `config`); returns the report, also written as report.json / report.md in `out`."""
    cfg = ExportConfig(**options) if config is None else dataclasses.replace(config, **options)
    ckpt = Path(ckpt) if ckpt else default_checkpoint()
    trained, payload = checkpoint.load(ckpt)
    pre = Preprocess.from_dict(payload["preprocess"])
    classes = list(payload["classes"])
    train = training_split(ckpt, payload, pre, cfg.data) if cfg.weights != "int8" else None  # refused before any output
    evals = open_eval(ckpt, payload, pre, cfg.data, cfg.eval_limit, log) if cfg.evaluate else None
    pool, calib_from = (
        calibration_pool(ckpt, payload, pre, cfg.calib, cfg.calib_data, cfg.data, cfg.seed)
        if cfg.int8
        else (np.zeros((0, pre.content, pre.content, pre.channels), np.uint8), "")
    )
    probe = _probe(evals, pool, pre)
    model = fold_batchnorm(trained)
    timings: dict[str, float] = {}
    slim, dead = remove_dead_taps(model, pre.size) if cfg.dead_taps else (model, [])
    rep = ExportReport(
        sqz_version=__version__,
        checkpoint=str(ckpt),
        checkpoint_sha256=manifest.sha256(ckpt),
        preprocess=pre,
        labels=tuple(classes),
        arch=payload["arch"],
        dataset=evals.name if evals else None,
        calibration_source=calib_from,
        calibration_ranges=cfg.ranges if cfg.int8 else None,
        dead_taps=_dead_tap_record(model, slim, dead, probe),
    )
    if dead:
        log(
            f"Dead taps: fire {', '.join(str(i + 2) for i in dead)} see 1x1 maps at {pre.size}x{pre.size}; "
            f"their 3x3 expands become centre 1x1 taps ({rep.dead_taps['parameters_before']:,} → "
            f"{rep.dead_taps['parameters_after']:,} parameters, outputs unchanged)"
        )
    net = slim
    if cfg.weights != "int8":
        net, rep.weights = weights_mod.prepare(
            copy.deepcopy(slim),
            cfg.weights,
            train,
            pre,
            cfg.qat_epochs,
            cfg.qat_images,
            cfg.seed,
            log,
            flip=rundata.mirrored(payload),
        )

    with staging(Path(out)) as work:
        with _timed(timings, "onnx"):
            log("ONNX: exporting and checking …")
            onnx_path = export_onnx(net, work / "model.onnx", pre.size)
            rep.onnx_parity = parity(net, onnx_path, probe)
        calibration = None
        if cfg.int8:
            calibration = calibration_pick(pool, cfg.calib, cfg.seed)
            rep.calibration_images = int(len(calibration))
            del pool
        with _timed(timings, "tflite" + ("+int8" if cfg.int8 else "")):
            log(
                "TFLite: writing float32"
                + (
                    f" and full int8 ({cfg.ranges} ranges over {len(calibration)} calibration images from {calib_from})"
                    if cfg.int8
                    else ""
                )
                + " …"
            )
            tfl = convert(net, pre, work, calibration, cfg.ranges, rep.weights)
        calibration = None
        if cfg.weights != "int8":
            weights_mod.check(tfl["int8"], tfl["int4"], net, rep.weights, probe)
            tfl["int8"].unlink()
            tfl["int8"] = tfl.pop("int4")
        files = {"model.onnx": onnx_path, **{p.name: p for p in tfl.values()}}
        for name, path in files.items():
            sess = open_session(path)
            rep.artifacts[name] = {
                "bytes": path.stat().st_size,
                "sha256": manifest.sha256(path),
                "format": path.suffix[1:],
                "precision": _precision(sess.io_spec()),
                "io": sess.io_spec(),
            }
        if evals is not None:
            with _timed(timings, "evaluate"):
                log(f"Evaluating {len(files)} artifacts on {len(evals):,} test images (streamed) …")
                _evaluate(rep, model, files, evals, pre, classes, log)
        else:
            rep.evaluation = "skipped"
        packed_files = []
        for path in tfl.values():
            info = pack_artifact(path)
            rep.artifacts[path.name]["packed"] = info
            packed_files.append(info["file"])
        micro_files = micro.export(work, tfl, cfg.target, rep) if micro.applies(cfg.target) else []
        rep.timings_s = timings
        rep.gate = _gate(rep.artifacts, cfg.limit, cfg.metric, cfg.target)
        _add_routes(rep, trained.cfg, pre.size, cfg.limit, tfl["int8"].name if "int8" in tfl else None)
        man = manifest.Manifest(
            preprocess=pre,
            labels=tuple(classes),
            sqz_version=__version__,
            checkpoint_sha256=rep.checkpoint_sha256,
            arch=payload["arch"],
            versions=_versions(),
            micro=rep.micro if micro_files else None,
            artifacts={n: manifest.Artifact.from_dict(a) for n, a in rep.artifacts.items()},
        )
        write_text(work / manifest.MANIFEST, json.dumps(man.to_dict(), indent=2))
        write_text(work / report_mod.REPORT, report_mod.dumps(rep))
        write_text(work / "report.md", report_mod.markdown(rep))
        plots = report_mod.write_classes(rep, work)
        with held():
            for name in (
                list(files) + packed_files + micro_files + plots + [manifest.MANIFEST, report_mod.REPORT, "report.md"]
            ):
                os.replace(work / name, Path(out) / name)
    rep.out = str(out)
    return rep


@torch.no_grad()
def _evaluate(
    rep: ExportReport, model, files: dict[str, Path], evals: EvalSet, pre: Preprocess, classes: list[str], log
) -> None:
    """Stream `evals` once through torch and every artifact; only logits are kept, never the images."""
    models = {name: Model(path, open_session(path), pre, classes) for name, path in files.items()}
    ref, got, ys = [], {name: [] for name in files}, []
    for x, y in evals.batches(pre):
        ref.append(model(torch.from_numpy(normalize(x, pre))).numpy())
        for name, m in models.items():
            got[name].append(m.logits(x))
        ys.append(y)
    if evals.skipped:
        log(f"warning: skipped {len(evals.skipped)} unreadable test image(s): {', '.join(evals.skipped[:3])}")
    if not ys:
        raise DatasetError(
            f"{evals.name}: none of the {len(evals):,} test images is readable; give --data DIR or --no-eval"
        )
    ref, y = np.concatenate(ref), np.concatenate(ys)
    rep.eval_images, rep.eval_skipped = int(len(y)), len(evals.skipped)
    rep.torch = {
        "accuracy": accuracy(ref, y),
        "confusion": confusion.summary(confusion.matrix(y, ref.argmax(1), len(classes)), classes),
    }
    for name, parts in got.items():
        logits = np.concatenate(parts)
        rep.artifacts[name].update(
            {
                "accuracy": accuracy(logits, y),
                "top1_agreement": float((logits.argmax(1) == ref.argmax(1)).mean()),
                "max_abs_diff_vs_torch": float(np.abs(logits - ref).max()),
                "confusion": confusion.summary(confusion.matrix(y, logits.argmax(1), len(classes)), classes),
            }
        )
        if name == "model.onnx":
            rep.onnx_parity = {
                "images": int(len(y)),
                "max_abs_diff": rep.artifacts[name]["max_abs_diff_vs_torch"],
                "top1_agreement": rep.artifacts[name]["top1_agreement"],
            }


def _probe(evals, pool: np.ndarray, pre: Preprocess, n: int = PROBE) -> np.ndarray:
    """Up to `n` normalised images (fewer at large sizes: about 24 MB) for the quick checks (ONNX parity
    without evaluation, dead taps, INT4): the first test images, else calibration images."""
    n = max(16, min(n, PROBE_BYTES // (4 * pre.channels * pre.size * pre.size)))
    if evals is not None:
        for x, _ in evals.batches(pre, n):
            return normalize(x, pre)
    if len(pool):
        return normalize(pool[:n], pre)
    return np.zeros((1, pre.channels, pre.size, pre.size), np.float32)


def _gate(artifacts: dict, limit: int, metric: str, target: str | None) -> dict:
    """The gate's verdict on each .tflite by `metric`, with its file and packed sizes and whether each fits."""
    judged = {}
    for name, a in artifacts.items():
        if name.endswith(".tflite"):
            sizes = {"file": a["bytes"], "packed": a["packed"]["bytes"]}
            by = {m: judge(name, "tflite", m, sizes[m], limit) for m in METRICS}
            v = by[metric]
            judged[name] = {
                "bytes": sizes["file"],
                "fits": v.fits,
                "over_bytes": v.over_bytes,
                "over_percent": round(v.over_percent, 2),
                "packed_bytes": sizes["packed"],
                "file_fits": by["file"].fits,
                "packed_fits": by["packed"].fits,
            }
    return {"budget": limit, "metric": metric, "target": target, "artifacts": judged}


def _add_routes(rep: ExportReport, cfg, size: int, limit: int, int8_name: str | None) -> None:
    """When the int8 file (`int8_name`: model_int8.tflite, or model_int4.tflite with --weights int4|mixed) is
    over the budget, the routes that would fit, in the gate record."""
    v = rep.gate["artifacts"].get(int8_name)
    if v and not v["fits"]:
        rep.gate["routes"] = routes.routes(cfg, size, limit, v["packed_bytes"])


@torch.no_grad()
def _dead_tap_record(model, slim, dead: list[int], x: np.ndarray) -> dict:
    """Parameters before/after the dead-tap pass and the largest logit change it caused on `x`."""
    count = lambda m: sum(p.numel() for p in m.parameters())
    change = 0.0
    if dead:
        rows = chunk(x)
        for i in range(0, min(len(x), 512), rows):
            sample = torch.from_numpy(x[i : i + rows])
            change = max(change, float((model(sample) - slim(sample)).abs().max()))
    return {
        "fires": [i + 2 for i in dead],
        "parameters_before": count(model),
        "parameters_after": count(slim),
        "max_abs_logit_change": change,
    }


def _precision(io: dict) -> str:
    """`int8` only when input and output are int8 (activations follow); else the input dtype."""
    i, o = io["input"]["dtype"], io["output"]["dtype"]
    return "int8" if i == o == "int8" else i


def _versions() -> dict:
    """The packages that made the files: torch and onnx for model.onnx, numpy and the schema's flatbuffers for
    the .tflite files sqz writes itself."""
    from importlib.metadata import version

    import onnx
    import onnxruntime

    return {
        "torch": str(torch.__version__),
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
        "flatbuffers": version("flatbuffers"),
        "tflite_writer": f"sqz {__version__}",
    }
