"""Board-side probe (numpy + sqz.runtime only): raw int8 outputs (or a .onnx file's float logits) for verify,
top-1 smoke check for deploy.

Copied into ARM environments and deploy bundles, so it imports nothing else from sqz.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MISSING_DEPS = 121


def outputs(
    model_path: str,
    images,
    threads: int | None = None,
    interpreter: str | None = None,
    reference: bool = False,
    builtin: bool = False,
) -> dict:
    """Quantised output steps (N, classes), top-1 and the interpreter, through sqz.runtime; `reference`: TFLite's
    reference kernels, `builtin`: the built-in optimised kernels without default delegates (no XNNPACK)."""
    import numpy as np

    from sqz.runtime import load

    if str(model_path).endswith(".onnx"):
        model = load(model_path, threads=threads)
        logits = model.logits(np.asarray(images, dtype=np.uint8)).astype(np.float32)
        return {"logits": logits, "top1": logits.argmax(axis=1).astype(np.int32), "interpreter": model.interpreter}
    model = load(model_path, threads=threads, interpreter=interpreter)
    session = model.session
    if reference or builtin:
        from sqz.runtime.interpreters import kernel_interpreter

        session.interp = kernel_interpreter(
            model_path,
            "BUILTIN_REF" if reference else "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
            interpreter or model.interpreter,
        )
    logits = model.logits(np.asarray(images, dtype=np.uint8))
    scale, zero = session.out["quantization"]
    steps = np.round(logits / scale + zero).astype(np.int32) if scale else logits
    return {"steps": steps, "top1": logits.argmax(axis=1).astype(np.int32), "interpreter": model.interpreter}


def smoke(release: Path, threads: int | None) -> tuple[int, dict]:
    """Predict the bundle's sample images and compare top-1 with what the host predicted."""
    import numpy as np

    man = json.loads((release / "manifest.json").read_text())
    spec = man["bundle"]["smoke"]
    images = np.load(release / spec["images"])
    got = outputs(str(release / man["bundle"]["model"]), images, threads=threads)
    match = int((got["top1"] == np.asarray(spec["top1"])).sum())
    report = {"match": match, "images": len(images), "interpreter": got["interpreter"]}
    return (0 if match == len(images) else 1), report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", type=Path, help="a deploy release directory to smoke-test")
    ap.add_argument("--model")
    ap.add_argument("--inputs", help=".npy of uint8 images (N, H, W, C)")
    ap.add_argument("--out", help=".npz to write steps and top-1 into")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--interpreter", default=None)
    ap.add_argument("--reference", action="store_true", help="reference kernels instead of the default ones")
    args = ap.parse_args(argv)
    try:
        import numpy as np

        if str(args.model).endswith(".onnx"):
            import onnxruntime  # noqa: F401
        else:
            from sqz.runtime.interpreters import tflite_interpreter_class

            tflite_interpreter_class(args.interpreter)
    except Exception as exc:
        print(json.dumps({"missing": f"{exc.__class__.__name__}: {exc}"}))
        return MISSING_DEPS
    if args.smoke:
        code, report = smoke(args.smoke, args.threads)
        print(json.dumps(report))
        return code
    got = outputs(args.model, np.load(args.inputs), args.threads, args.interpreter, args.reference)
    np.savez(args.out, top1=got["top1"], **{k: got[k] for k in ("steps", "logits") if k in got})
    import platform

    print(json.dumps({"interpreter": got["interpreter"], "machine": platform.machine()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
