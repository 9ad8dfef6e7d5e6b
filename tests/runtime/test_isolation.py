import subprocess
import sys


def test_runtime_imports_no_torch_tensorflow_or_onnx():
    code = (
        "import sys, sqz.runtime, sqz.runtime.tflite, sqz.runtime.onnx, sqz.runtime.model; "
        "bad = [m for m in ('torch', 'tensorflow', 'onnx', 'onnx2tf', 'keras') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_runtime_source_never_names_training_or_conversion_modules():
    from pathlib import Path

    import sqz.runtime

    for path in Path(sqz.runtime.__file__).parent.glob("*.py"):
        text = path.read_text()
        for forbidden in (
            "import torch",
            "import tensorflow",
            "import onnx\n",
            "from sqz.train",
            "from sqz.export",
            "from sqz.quantize",
        ):
            assert forbidden not in text, f"{path.name} contains {forbidden!r}"
