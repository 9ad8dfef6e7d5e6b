import json

import pytest
import torch

from sqz.errors import InputError
from sqz.train import checkpoint
from sqz.train.loop import TrainConfig, train


def test_tiny_run_learns_and_writes_its_records(tiny_run):
    record = json.loads((tiny_run / "metrics.json").read_text())
    assert record["test_acc"] > 0.35, "4 epochs on 3,000 real images should beat 10 % chance by far"
    assert [h["epoch"] for h in record["history"]] == [1, 2, 3, 4]
    assert all(h["images_per_s"] > 0 and 0 <= h["val_acc"] <= 1 for h in record["history"])
    model, payload = checkpoint.load(tiny_run / "model.pt")
    assert "resume" not in payload and "resume" in checkpoint.load_raw(tiny_run / "last.pt")
    assert payload["classes"][0] == "T-shirt/top" and payload["preprocess"]["size"] == 32
    assert not list(tiny_run.glob("*.tmp"))


@pytest.mark.slow
def test_resume_ends_where_an_uninterrupted_run_ends(tmp_path, small_dataset):
    base = dict(epochs=2, limit=300, lr=3e-3, seed=5)
    full = train(TrainConfig(out=str(tmp_path / "full"), **base), dataset=small_dataset, progress=False)
    train(
        TrainConfig(out=str(tmp_path / "cut"), **{**base, "epochs": 2}),
        dataset=small_dataset,
        progress=False,
        stop_after=1,
    )
    resumed = train(TrainConfig(out=str(tmp_path / "cut"), **base), dataset=small_dataset, progress=False, resume=True)
    a, _ = checkpoint.load(tmp_path / "full" / "model.pt")
    b, _ = checkpoint.load(tmp_path / "cut" / "model.pt")
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    assert resumed["test_acc"] == full["test_acc"]


def test_bad_arguments_are_user_errors(tmp_path, small_dataset):
    with pytest.raises(InputError, match="at least 1"):
        train(TrainConfig(out=str(tmp_path), epochs=0), dataset=small_dataset, progress=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        train(TrainConfig(out=str(tmp_path / "file")), dataset=small_dataset, progress=False)
    with pytest.raises(InputError, match="no .* to resume"):
        train(TrainConfig(out=str(tmp_path / "new"), epochs=1), dataset=small_dataset, progress=False, resume=True)


def test_each_epoch_leaves_a_readable_history(tiny_run):
    import csv

    from PIL import Image

    record = json.loads((tiny_run / "metrics.json").read_text())
    rows = list(csv.DictReader((tiny_run / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert [float(r["val_acc"]) for r in rows] == [h["val_acc"] for h in record["history"]]
    assert json.loads((tiny_run / "history.json").read_text()) == record["history"]
    with Image.open(tiny_run / "curves.png") as im:
        assert im.format == "PNG" and im.size == (900, 360)
        assert len(set(im.convert("RGB").getdata())) > 10, "the plot has curves, not a blank canvas"


def test_cpu_training_stays_fp32(tmp_path, small_dataset):
    with pytest.raises(InputError, match="CPU training stays fp32"):
        train(TrainConfig(out=str(tmp_path), device="cpu", precision="bf16"), dataset=small_dataset, progress=False)
    with pytest.raises(InputError, match="--precision fp8"):
        train(TrainConfig(out=str(tmp_path), device="cpu", precision="fp8"), dataset=small_dataset, progress=False)
