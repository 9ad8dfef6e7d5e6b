"""`load(path)` → a Model whose `predict(images)` returns class probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sqz.errors import ModelFileError
from sqz.runtime import manifest, packed, validate
from sqz.runtime.isolate import isolated
from sqz.runtime.preprocess import Preprocess, decode, normalize


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Model:
    """A model file with its recorded preprocessing and labels."""

    def __init__(self, path: Path, session, preprocess: Preprocess, labels: list[str]) -> None:
        self.path, self.session, self.preprocess, self.labels = path, session, preprocess, labels

    @property
    def interpreter(self) -> str:
        return self.session.interpreter_name

    def logits(self, batch: np.ndarray) -> np.ndarray:
        """Float logits for uint8 images already decoded to (N, content, content, C)."""
        return self.session.run(normalize(batch, self.preprocess))

    def predict(self, images) -> np.ndarray:
        """Class probabilities (N, classes) for image paths, PIL images or arrays; an (N, H, W, C) array gives
        what the list of its images gives (float arrays in 0..1 are scaled to 0..255 once, in `decode`)."""
        pre = self.preprocess
        if (
            isinstance(images, np.ndarray)
            and images.dtype == np.uint8
            and images.shape[1:] == (pre.content, pre.content, pre.channels)
        ):
            batch = images
        else:
            batch = np.stack([decode(im, pre) for im in images])
        return softmax(self.logits(batch))

    def top_k(self, images, k: int = 3) -> list[list[tuple[str, float]]]:
        probs = self.predict(images)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]  # ties by class index, the same on every CPU
        return [[(self.labels[j], float(p[j])) for j in row] for p, row in zip(probs, order)]


def open_session(path: Path, threads: int | None = None, interpreter: str | None = None, content: bytes | None = None):
    """The interpreter session for a .tflite or .onnx file (`content`: its bytes, already unpacked)."""
    if path.suffix == ".tflite":
        from sqz.runtime.tflite import TFLiteSession

        return TFLiteSession(path, threads, interpreter, content)
    if path.suffix == ".onnx":
        from sqz.runtime.onnx import ONNXSession

        isolated(lambda: ONNXSession(path, threads), path)
        return ONNXSession(path, threads)
    raise ModelFileError(f"{path}: unknown model type; give a .tflite or .onnx file")


def load(path, threads: int | None = None, interpreter: str | None = None) -> Model:
    """Load a model from an export directory (the manifest beside it gives preprocessing and labels)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    validate.check_size(path)
    content = None
    if packed.is_packed(path):
        inner = path.with_name(path.name[: -len(packed.SUFFIX)])
        data, entry = manifest.entry_for(inner)
        want = (entry.packed or {}).get("sha256")
        if want is None or manifest.sha256(path) != want:
            raise ModelFileError(
                f"{path}: sha256 does not match the manifest's packed entry; the file is damaged or was replaced"
            )
        content = packed.unpack_file(path)
        if packed.sha256_bytes(content) != entry.sha256:
            raise ModelFileError(f"{path}: unpacked bytes do not match the manifest's sha256")
        path = inner
    else:
        data, entry = manifest.entry_for(path)
        if entry.sha256 and manifest.sha256(path) != entry.sha256:
            raise ModelFileError(f"{path}: sha256 does not match the manifest; the file is damaged or was replaced")
    return Model(path, open_session(path, threads, interpreter, content), data.preprocess, list(data.labels))
