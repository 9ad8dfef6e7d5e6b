"""`sqz bench`: batch-1 latency, load time, peak memory, and which interpreter and delegate ran."""

from __future__ import annotations

import os
import platform
import re
import resource
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from sqz import __version__
from sqz.errors import InputError
from sqz.runtime.model import Model, load
from sqz.runtime.onnx import ONNXSession
from sqz.runtime.preprocess import decode, normalize
from sqz.runtime.stderr import captured_stderr
from sqz.runtime.tflite import quantize_input

SYNTHETIC_IMAGES = 8
LATENCY_KEYS = ("median", "p90", "min", "max", "mean")
KEYS = (
    "model",
    "format",
    "precision",
    "interpreter",
    "delegate",
    "delegate_evidence",
    "threads",
    "input",
    "runs",
    "warmup",
    "latency_ms",
    "load_ms",
    "peak_rss_mib",
    "rss_before_load_mib",
    "machine",
    "sqz_version",
)
_XNNPACK_LINE = re.compile(r"[^\n]*XNNPACK delegate[^\n]*")


def summarize(samples_s) -> dict:
    """Median, p90, min, max and mean in milliseconds of per-call times given in seconds."""
    ms = np.asarray(samples_s, dtype=np.float64) * 1e3
    if ms.size == 0:
        raise InputError("no timings to summarise; --runs must be at least 1")
    return {
        "median": float(np.median(ms)),
        "p90": float(np.percentile(ms, 90)),
        "min": float(ms.min()),
        "max": float(ms.max()),
        "mean": float(ms.mean()),
    }


def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM from /proc, else getrusage's ru_maxrss."""
    kib = _proc_status_kib("VmHWM")
    if kib is None:
        kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform == "darwin" else 1)
    return kib / 1024


def rss_mib() -> float | None:
    kib = _proc_status_kib("VmRSS")
    return None if kib is None else kib / 1024


def _proc_status_kib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return None


def delegate_of(model: Model, load_log: str) -> tuple[str, str]:
    """(delegate, how we know): DELEGATE nodes in the TFLite execution graph, or onnxruntime's providers."""
    session = model.session
    if isinstance(session, ONNXSession):
        providers = session.sess.get_providers()
        return providers[0], f"onnxruntime InferenceSession.get_providers() = {providers}"
    line = _XNNPACK_LINE.search(load_log)
    logged = f"; log at load: {line.group(0).strip()!r}" if line else ""
    try:
        nodes = [op for op in session.interp._get_ops_details() if op["op_name"] == "DELEGATE"]
    except Exception:
        if line:
            return "XNNPACK", logged[2:]
        return "unknown", "this interpreter lists no nodes and logged no delegate"
    if not nodes:
        return "none (built-in kernels)", "no DELEGATE node in the execution graph: XNNPACK took no op" + logged
    covers = any(session.out["index"] in list(op["outputs"]) for op in nodes)
    every = (
        "; it takes every operator"
        if delegates_every_op(session.interp)
        else "; some operators stay on built-in kernels"
    )
    return "XNNPACK", (
        f"{len(nodes)} DELEGATE node(s) in the execution graph"
        f"{', one producing the model output' if covers else ''}{every}; XNNPACK is the interpreter's "
        f"only default delegate{logged}"
    )


def delegates_every_op(interp) -> bool:
    """Whether one DELEGATE node runs the whole graph: it makes the output and reads no tensor a model operator
    makes (a partial delegation leaves operators whose outputs feed, or come from, delegate nodes)."""
    ops = interp._get_ops_details()
    nodes = [op for op in ops if op["op_name"] == "DELEGATE"]
    made = {int(t) for op in ops if op["op_name"] != "DELEGATE" for t in op["outputs"]}
    output = interp.get_output_details()[0]["index"]
    return (
        len(nodes) == 1
        and [int(t) for t in nodes[0]["outputs"]] == [output]
        and not made & {int(t) for t in nodes[0]["inputs"]}
    )


def interpreter_version(model: Model) -> str:
    name = model.interpreter
    if " " in name:
        return name
    try:
        return f"{name} {metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return name


def inputs_for(model: Model, images=()) -> tuple[list[np.ndarray], str]:
    """Batch-1 tensors in the interpreter's own dtype and layout, and a sentence saying what they are."""
    pre = model.preprocess
    if images:
        batch = np.stack([decode(str(p), pre) for p in images])
        what = f"{len(images)} image file(s) through the model's preprocessing"
    else:
        rng = np.random.default_rng(0)
        batch = rng.integers(0, 256, (SYNTHETIC_IMAGES, pre.content, pre.content, pre.channels), dtype=np.uint8)
        what = (
            f"{SYNTHETIC_IMAGES} synthetic images (seeded uniform uint8 pixels, {pre.content}x{pre.content}"
            f"x{pre.channels} from the manifest) through the model's preprocessing; no images given"
        )
    return interpreter_inputs(model, normalize(batch, pre)), what


def interpreter_inputs(model: Model, x: np.ndarray) -> list[np.ndarray]:
    """Normalised float32 NCHW images → batch-1 tensors in the interpreter's dtype, layout and quantisation."""
    session = model.session
    if getattr(session, "layout", "NCHW") == "NHWC":
        x = x.transpose(0, 2, 3, 1)
    inp = getattr(session, "inp", None)
    if inp is not None:
        x = quantize_input(x, inp)
    return [np.ascontiguousarray(x[i : i + 1]) for i in range(len(x))]


def invoker(model: Model):
    """One batch-1 inference as the board does it: set the input, run, read the output."""
    session = model.session
    if isinstance(session, ONNXSession):
        sess, name = session.sess, session.input_name
        return lambda x: sess.run(None, {name: x})[0]
    interp, i, o = session.interp, session.inp["index"], session.out["index"]

    def call(x):
        interp.set_tensor(i, x)
        interp.invoke()
        return interp.get_tensor(o)

    return call


def time_calls(call, inputs: list, runs: int, warmup: int) -> list[float]:
    """Seconds per call, after `warmup` untimed calls, cycling through `inputs`."""
    for k in range(warmup):
        call(inputs[k % len(inputs)])
    samples = []
    for k in range(runs):
        x = inputs[k % len(inputs)]
        t = time.perf_counter()
        call(x)
        samples.append(time.perf_counter() - t)
    return samples


def bench(
    path, threads: int | None = None, runs: int = 100, warmup: int = 10, images=(), interpreter: str | None = None
) -> dict:
    """Benchmark one model file of an export directory; returns a dict with exactly the keys in KEYS."""
    if runs < 1:
        raise InputError(f"--runs must be at least 1, got {runs}")
    if warmup < 0:
        raise InputError(f"--warmup must be 0 or more, got {warmup}")
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be at least 1, got {threads}")
    before = rss_mib()
    with captured_stderr() as log:
        t = time.perf_counter()
        model = load(path, threads=threads, interpreter=interpreter)
        load_ms = (time.perf_counter() - t) * 1e3
    delegate, evidence = delegate_of(model, log["text"])
    inputs, what = inputs_for(model, images)
    latency = summarize(time_calls(invoker(model), inputs, runs, warmup))
    io = model.session.io_spec()
    i_dt, o_dt = io["input"]["dtype"], io["output"]["dtype"]
    fmt = model.path.suffix[1:] + ("" if Path(path).name == model.path.name else f" (unpacked from {Path(path).name})")
    return {
        "model": str(path),
        "format": fmt,
        "precision": f"{i_dt} in / {o_dt} out",
        "interpreter": interpreter_version(model),
        "delegate": delegate,
        "delegate_evidence": evidence,
        "threads": threads,
        "input": what,
        "runs": runs,
        "warmup": warmup,
        "latency_ms": latency,
        "load_ms": load_ms,
        "peak_rss_mib": peak_rss_mib(),
        "rss_before_load_mib": before,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU(s)",
        "sqz_version": __version__,
    }


def text(r: dict) -> str:
    """The human-readable report of one `bench` result."""
    lat = r["latency_ms"]
    threads = r["threads"] if r["threads"] is not None else "interpreter default"
    before = "" if r["rss_before_load_mib"] is None else f"; {r['rss_before_load_mib']:.1f} MiB before loading"
    return "\n".join(
        [
            f"model        {r['model']} ({r['format']}, {r['precision']})",
            f"interpreter  {r['interpreter']}; delegate {r['delegate']} ({r['delegate_evidence']})",
            f"threads      {threads}",
            f"input        {r['input']}",
            f"latency      median {lat['median']:.3f} ms, p90 {lat['p90']:.3f}, min {lat['min']:.3f}, "
            f"max {lat['max']:.3f} (batch 1, {r['runs']} runs after {r['warmup']} warm-up)",
            f"load         {r['load_ms']:.1f} ms (manifest, sha256 check, interpreter ready)",
            f"peak RSS     {r['peak_rss_mib']:.1f} MiB (whole process{before})",
            f"machine      {r['machine']}; sqz {r['sqz_version']}",
        ]
    )
