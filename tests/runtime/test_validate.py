"""The structural TFLite check on real exported models and real damage; its field ids against the generated schema."""

import ast
import importlib.util
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from sqz.errors import ModelFileError
from sqz.runtime import validate


def _rebuild(buf: bytes, edit) -> bytes:
    """Re-serialise a real model after `edit(ModelT)`: a well-formed flatbuffer that says something wrong."""
    import flatbuffers

    from sqz.quantize.flatbuffer import schema as tflite_schema

    schema = tflite_schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    edit(model)
    builder = flatbuffers.Builder(len(buf))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.fixture(scope="module")
def int8_bytes(tiny_export) -> bytes:
    out, _ = tiny_export
    return (out / "model_int8.tflite").read_bytes()


def test_real_models_pass(tiny_export):
    out, _ = tiny_export
    for name in ("model_int8.tflite", "model_float32.tflite"):
        buf = (out / name).read_bytes()
        counts = validate.tflite(buf, name)
        assert counts["subgraphs"] == 1 and counts["operators"] > 20 and counts["tensors"] > counts["operators"]
    assert validate.tflite(_rebuild(buf, lambda m: None))["tensors"] == counts["tensors"]


def _set(obj, attr: str, i: int, value) -> None:
    """Change one entry of a vector field (ModelT's arrays are read-only views of the file)."""
    a = np.array(getattr(obj, attr))
    a[i] = value
    setattr(obj, attr, a)


def _first_conv(model):
    sg = model.subgraphs[0]
    return sg, next(op for op in sg.operators if len(op.inputs) == 3)


def _grow_weight(model):
    sg, op = _first_conv(model)
    tensor = sg.tensors[op.inputs[1]]
    _set(tensor, "shape", 1, tensor.shape[1] + 1)


def _scales(model):
    sg, op = _first_conv(model)
    q = sg.tensors[op.inputs[1]].quantization
    q.scale = list(q.scale) + [1.0]
    q.zeroPoint = list(q.zeroPoint) + [0]


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda m: setattr(m.subgraphs[0].tensors[0], "buffer", len(m.buffers) + 5), "outside buffers"),
        (lambda m: _set(_first_conv(m)[1], "inputs", 0, 10_000), "outside tensors"),
        (lambda m: _set(_first_conv(m)[1], "outputs", 0, -1), "outside tensors"),
        (lambda m: setattr(_first_conv(m)[1], "opcodeIndex", 77), "outside operator_codes"),
        (lambda m: _set(m.subgraphs[0], "inputs", 0, 999), "inputs entry 999"),
        (lambda m: setattr(m.subgraphs[0].tensors[0], "type", 99), "unknown type 99"),
        (_grow_weight, "but its buffer holds"),
        (_scales, "per-channel scales"),
        (lambda m: setattr(m, "subgraphs", []), "no subgraphs"),
    ],
)
def test_well_formed_flatbuffers_that_lie_are_refused(int8_bytes, edit, needle):
    with pytest.raises(ModelFileError, match=needle) as err:
        validate.tflite(_rebuild(int8_bytes, edit), "bad.tflite")
    assert str(err.value).startswith("bad.tflite: not a valid TFLite model")


def test_broken_bytes_are_refused(int8_bytes):
    root = struct.unpack_from("<I", int8_bytes)[0]
    vtable_at = root - struct.unpack_from("<i", int8_bytes, root)[0]
    cases = {
        "no TFL3 identifier": int8_bytes[:4] + b"XXXX" + int8_bytes[8:],
        "model lies outside the file": struct.pack("<I", len(int8_bytes) + 8) + int8_bytes[4:],
        "malformed vtable": int8_bytes[:vtable_at] + struct.pack("<H", 3) + int8_bytes[vtable_at + 2 :],
        "outside the file": int8_bytes[:200],
    }
    for needle, buf in cases.items():
        with pytest.raises(ModelFileError, match=needle):
            validate.tflite(buf, "x.tflite")
    for cut in range(0, len(int8_bytes), 9973):
        with pytest.raises(ModelFileError):
            validate.tflite(int8_bytes[:cut], "x.tflite")


def test_runtime_refuses_a_damaged_model_even_when_its_manifest_agrees(tiny_export, tmp_path, int8_bytes):
    """Bytes whose sha256 the manifest vouches for still pass the structural check before the interpreter."""
    import json

    from sqz.runtime import load
    from sqz.runtime.manifest import sha256

    out, _ = tiny_export
    bad = _rebuild(int8_bytes, _grow_weight)
    (tmp_path / "model_int8.tflite").write_bytes(bad)
    man = json.loads((out / "manifest.json").read_text())
    man["artifacts"]["model_int8.tflite"]["sha256"] = sha256(tmp_path / "model_int8.tflite")
    (tmp_path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ModelFileError, match="model_int8.tflite: not a valid TFLite model"):
        load(tmp_path / "model_int8.tflite")


def test_oversized_files_are_refused_unread(tmp_path, monkeypatch):
    """A sparse file over 2 GiB is refused from its size alone: no byte of it is read (every way of opening
    or reading a file is watched), while a small file next to it is read normally."""
    import builtins
    import io
    from pathlib import Path

    huge, small = tmp_path / "huge.tflite", tmp_path / "small.tflite"
    with open(huge, "wb") as f:
        f.write(b"\x1c\x00\x00\x00TFL3")
        f.truncate(validate.MAX_MODEL_BYTES + 1)
    small.write_bytes(b"\x1c\x00\x00\x00TFL3")
    opened = []
    real_open, real_read_bytes, real_os_open = builtins.open, Path.read_bytes, os.open

    def watch(real):
        def spy(file, *args, **kwargs):
            opened.append(Path(file if not isinstance(file, Path) else file).name)
            return real(file, *args, **kwargs)

        return spy

    monkeypatch.setattr(builtins, "open", watch(real_open))
    monkeypatch.setattr(io, "open", watch(real_open))
    monkeypatch.setattr(os, "open", watch(real_os_open))
    monkeypatch.setattr(Path, "read_bytes", lambda self: (opened.append(self.name), real_read_bytes(self))[1])
    with pytest.raises(ModelFileError, match="larger than any TFLite or ONNX file"):
        validate.read_model(huge)
    assert "huge.tflite" not in opened
    assert validate.read_model(small) == b"\x1c\x00\x00\x00TFL3" and "small.tflite" in opened


FIELDS = {  # validate.py's constant → the generated builder function whose slot is that field id
    "MODEL_OPCODES": "ModelAddOperatorCodes",
    "MODEL_SUBGRAPHS": "ModelAddSubgraphs",
    "MODEL_DESCRIPTION": "ModelAddDescription",
    "MODEL_BUFFERS": "ModelAddBuffers",
    "MODEL_METADATA_BUFFER": "ModelAddMetadataBuffer",
    "MODEL_METADATA": "ModelAddMetadata",
    "MODEL_SIGNATURES": "ModelAddSignatureDefs",
    "SUBGRAPH_TENSORS": "SubGraphAddTensors",
    "SUBGRAPH_INPUTS": "SubGraphAddInputs",
    "SUBGRAPH_OUTPUTS": "SubGraphAddOutputs",
    "SUBGRAPH_OPERATORS": "SubGraphAddOperators",
    "SUBGRAPH_NAME": "SubGraphAddName",
    "TENSOR_SHAPE": "TensorAddShape",
    "TENSOR_TYPE": "TensorAddType",
    "TENSOR_BUFFER": "TensorAddBuffer",
    "TENSOR_NAME": "TensorAddName",
    "TENSOR_QUANT": "TensorAddQuantization",
    "TENSOR_SPARSITY": "TensorAddSparsity",
    "TENSOR_SHAPE_SIGNATURE": "TensorAddShapeSignature",
    "OP_OPCODE": "OperatorAddOpcodeIndex",
    "OP_INPUTS": "OperatorAddInputs",
    "OP_OUTPUTS": "OperatorAddOutputs",
    "OP_OPTIONS": "OperatorAddBuiltinOptions",
    "OP_CUSTOM": "OperatorAddCustomOptions",
    "OP_INTERMEDIATES": "OperatorAddIntermediates",
    "OP_LARGE_CUSTOM_OFFSET": "OperatorAddLargeCustomOptionsOffset",
    "OP_LARGE_CUSTOM_SIZE": "OperatorAddLargeCustomOptionsSize",
    "OP_OPTIONS_2": "OperatorAddBuiltinOptions2",
    "BUFFER_DATA": "BufferAddData",
    "BUFFER_OFFSET": "BufferAddOffset",
    "BUFFER_SIZE": "BufferAddSize",
    "QUANT_MIN": "QuantizationParametersAddMin",
    "QUANT_MAX": "QuantizationParametersAddMax",
    "QUANT_SCALE": "QuantizationParametersAddScale",
    "QUANT_ZERO": "QuantizationParametersAddZeroPoint",
    "QUANT_DIM": "QuantizationParametersAddQuantizedDimension",
    "METADATA_NAME": "MetadataAddName",
    "METADATA_BUFFER": "MetadataAddBuffer",
    "SIGNATURE_INPUTS": "SignatureDefAddInputs",
    "SIGNATURE_OUTPUTS": "SignatureDefAddOutputs",
    "SIGNATURE_KEY": "SignatureDefAddSignatureKey",
    "SIGNATURE_SUBGRAPH": "SignatureDefAddSubgraphIndex",
    "TENSORMAP_NAME": "TensorMapAddName",
    "TENSORMAP_INDEX": "TensorMapAddTensorIndex",
}


def _generated_schema() -> ast.Module:
    """ai-edge-litert's schema_py_generated.py (what sqz/quantize/flatbuffer.py writes with), parsed."""
    root = importlib.util.find_spec("ai_edge_litert").submodule_search_locations[0]
    return ast.parse((Path(root) / "schema_py_generated.py").read_text())


def test_field_ids_match_the_generated_schema():
    tree = _generated_schema()
    slots = {
        f.name: f.body[0].value.args[0].value
        for f in tree.body
        if isinstance(f, ast.FunctionDef)
        and isinstance(f.body[0], ast.Expr)
        and isinstance(f.body[0].value, ast.Call)
        and getattr(f.body[0].value.func, "attr", "").startswith("Prepend")
        and getattr(f.body[0].value.func, "attr", "").endswith("Slot")
    }
    ours = {
        k: v
        for k, v in vars(validate).items()
        if isinstance(v, int)
        and k.split("_")[0]
        in {"MODEL", "SUBGRAPH", "TENSOR", "TENSORMAP", "OP", "BUFFER", "QUANT", "METADATA", "SIGNATURE"}
    }
    assert set(ours) == set(FIELDS), "a field id constant in validate.py has no entry in FIELDS"
    assert {k: ours[k] for k in FIELDS} == {k: slots[fn] for k, fn in FIELDS.items()}
    types = next(c for c in tree.body if isinstance(c, ast.ClassDef) and c.name == "TensorType")
    values = {s.value.value for s in types.body if isinstance(s, ast.Assign)}
    assert values <= set(validate.ELEMENT_BYTES), "a TensorType the structural check does not know"
