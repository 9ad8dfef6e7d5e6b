import pytest
import torch

from sqz.errors import ModelFileError
from sqz.train import checkpoint


def test_corrupt_and_foreign_checkpoints_are_refused(tmp_path, tiny_run):
    good = (tiny_run / "model.pt").read_bytes()
    cases = {"truncated.pt": good[: len(good) // 2], "empty.pt": b"", "text.pt": b"hello\n"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ModelFileError, match="not a readable sqz checkpoint"):
            checkpoint.load(tmp_path / name)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(ModelFileError, match="not an sqz checkpoint"):
        checkpoint.load(tmp_path / "foreign.pt")
    with pytest.raises(ModelFileError, match="no such checkpoint"):
        checkpoint.load(tmp_path / "missing.pt")
