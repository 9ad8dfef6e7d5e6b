import onnx

from sqz.export.onnx import export_onnx, parity
from sqz.runtime.preprocess import normalize
from sqz.train import checkpoint
from sqz.train.surgery import fold_batchnorm


def test_onnx_is_one_checked_file_that_matches_torch(tmp_path, tiny_run, small_dataset):
    model, payload = checkpoint.load(tiny_run / "model.pt")
    path = export_onnx(fold_batchnorm(model), tmp_path / "m.onnx", 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    onnx.checker.check_model(str(path), full_check=True)
    assert not any(n.op_type == "BatchNormalization" for n in onnx.load(str(path)).graph.node)
    from sqz.runtime.preprocess import Preprocess

    x = normalize(small_dataset.test.x[:200], Preprocess.from_dict(payload["preprocess"]))
    p = parity(fold_batchnorm(model), path, x)
    assert p["images"] == 200 and p["max_abs_diff"] < 1e-3 and p["top1_agreement"] == 1.0
