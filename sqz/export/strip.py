"""Strip what the interpreter never reads from a .tflite: tensor names and conversion metadata.

Measured and rejected: dropping the int32 biases' per-channel scales and int64 zero points (35 KB on
the 10-class model) changes XNNPACK's int8 results, so they stay.
"""

from __future__ import annotations

from pathlib import Path

KEEP_METADATA = {b"min_runtime_version"}


def tflite_schema():
    """TensorFlow's generated TFLite schema module, loaded from its file without importing TensorFlow
    (whose import costs seconds and prints CUDA and factory-registration noise to the terminal)."""
    import importlib.util
    import sys

    name = "sqz_tflite_schema"
    if name not in sys.modules:
        tf = importlib.util.find_spec("tensorflow")
        if tf is None or not tf.submodule_search_locations:
            raise ImportError("tensorflow is not installed; pip install 'sqz[export]'")
        path = Path(list(tf.submodule_search_locations)[0]) / "lite" / "python" / "schema_py_generated.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def strip(src: Path, dst: Path) -> dict:
    """Write a stripped copy of `src` to `dst`; returns the bytes saved per kind."""
    import flatbuffers

    schema = tflite_schema()
    buf = Path(src).read_bytes()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    saved = {"names": 0, "metadata": 0}
    for sg in model.subgraphs:
        keep = set(sg.inputs.tolist()) | set(sg.outputs.tolist())
        for i, t in enumerate(sg.tensors):
            if i not in keep and t.name:
                saved["names"] += len(t.name)
                t.name = b""
    meta, seen = [], set()
    for md in model.metadata or []:
        if md.name in KEEP_METADATA and md.name not in seen:
            meta.append(md)
            seen.add(md.name)
        else:
            data = model.buffers[md.buffer].data
            saved["metadata"] += 0 if data is None else len(data)
            model.buffers[md.buffer].data = None
    model.metadata = meta
    model.description = b""
    builder = flatbuffers.Builder(len(buf))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    Path(dst).write_bytes(bytes(builder.Output()))
    return saved
