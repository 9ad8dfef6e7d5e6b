"""Board runtime: numpy and one interpreter; never torch, TensorFlow or onnx."""

from sqz.runtime.model import Model, load

__all__ = ["Model", "load"]
