"""The engines the bench times: one batch-1 callable per (runtime, artifact, threads), fed the same images."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from sqz.runtime.bench import delegate_of, interpreter_inputs, interpreter_version, invoker
from sqz.runtime.interpreters import cannot_run, tflite_interpreter_class
from sqz.runtime.model import Model, open_session

REFERENCE = "ort_fp32"
SQZ_SHIPS = "tflite_int8_litert"


@dataclass
class Engine:
    key: str
    label: str
    artifact: str
    precision: str
    runtime: str
    delegate: str
    call: Callable
    inputs: list = field(repr=False)
    logits: Callable = field(repr=False)


def _torch(m: dict, threads: int) -> Engine:
    model = m["torch"]
    torch.set_num_threads(threads)
    inputs = [torch.from_numpy(np.ascontiguousarray(m["bench_x"][i : i + 1])) for i in range(len(m["bench_x"]))]

    def call(x):
        with torch.inference_mode():
            return model(x)

    def logits(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return torch.cat([model(torch.from_numpy(x[i : i + 500])) for i in range(0, len(x), 500)]).numpy()

    return Engine(
        "torch_fp32",
        "torch fp32 (eager, BN folded)",
        "checkpoint",
        "float32",
        f"torch {torch.__version__}",
        "—",
        call,
        inputs,
        logits,
    )


def _file(m: dict, key: str, label: str, name: str, threads: int, interpreter: str | None = None) -> Engine:
    path = Path(m["dir"]) / name
    model = Model(path, open_session(path, threads, interpreter), m["preprocess"], m["classes"])
    io = model.session.io_spec()
    precision = (
        f"{io['input']['dtype']} in/out"
        if io["input"]["dtype"] == io["output"]["dtype"]
        else f"{io['input']['dtype']} in, {io['output']['dtype']} out"
    )
    if name.endswith(".onnx") and "int8" in name:
        precision = "int8 QDQ inside, float32 in/out"
    return Engine(
        key,
        label,
        name,
        precision,
        interpreter_version(model),
        delegate_of(model, "")[0],
        invoker(model),
        interpreter_inputs(model, m["bench_x"]),
        model.session.run,
    )


def engines(m: dict, threads: int, peer: bool) -> list[Engine]:
    """Every engine for model `m` at `threads`; the ORT fp32 reference first."""
    default_name = tflite_interpreter_class()[0]
    out = [
        _file(m, REFERENCE, "ONNX Runtime fp32", "model.onnx", threads),
        _torch(m, threads),
        _file(m, "ort_int8_s8s8", "ONNX Runtime int8 QDQ (S8S8)", "model_ort_int8_s8s8.onnx", threads),
        _file(m, "ort_int8_u8s8", "ONNX Runtime int8 QDQ (U8S8)", "model_ort_int8_u8s8.onnx", threads),
        _file(m, "tflite_fp32", "TFLite fp32 · ai-edge-litert", "model_float32.tflite", threads, "ai-edge-litert"),
        _file(
            m,
            SQZ_SHIPS,
            "TFLite int8 · ai-edge-litert" + (" (sqz default)" if default_name == "ai-edge-litert" else ""),
            "model_int8.tflite",
            threads,
            "ai-edge-litert",
        ),
    ]
    if importlib.util.find_spec("tflite_runtime") and not cannot_run("tflite-runtime"):  # numpy 1 only
        out.append(
            _file(
                m,
                "tflite_int8_tflrt",
                "TFLite int8 · tflite-runtime" + (" (sqz default)" if default_name == "tflite-runtime" else ""),
                "model_int8.tflite",
                threads,
                "tflite-runtime",
            )
        )
    if peer:
        out.append(
            _file(
                m,
                "peer_int8_litert",
                "litert-torch PT2E int8 · ai-edge-litert",
                "model_litert_torch_int8.tflite",
                threads,
                "ai-edge-litert",
            )
        )
    return out
