import json

import pytest
import torch
from click.testing import CliRunner

from sqz.cli import main
from sqz.errors import InputError
from sqz.train import checkpoint
from sqz.train.loop import TrainConfig, train

BASE = dict(limit=256, batch_size=64, lr=3e-3, seed=3, threads=1)


def _one_cycle_lr(step: int, total: int, lr: float) -> float:
    """The learning rate a fresh one-cycle over `total` steps reaches after `step` steps."""
    opt = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
    for _ in range(step):
        opt.step()
        sched.step()
    return sched.get_last_lr()[0]


def test_resume_with_more_epochs_replans_the_schedule(tmp_path, small_dataset):
    out = str(tmp_path / "r")
    first = train(TrainConfig(out=out, epochs=1, **BASE), dataset=small_dataset, progress=False)
    weights, _ = checkpoint.load(tmp_path / "r" / "last.pt")
    record = train(TrainConfig(out=out, epochs=3, **BASE), dataset=small_dataset, progress=False, resume=True)
    rows = record["history"]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[0] == first["history"][0], "the first epoch is the restored one, not trained again"
    steps = 4  # 256 images, less the validation share, in batches of 64
    assert rows[1]["lr"] == pytest.approx(_one_cycle_lr(2 * steps, 3 * steps, 3e-3), rel=1e-6)
    assert rows[2]["lr"] == pytest.approx(_one_cycle_lr(3 * steps, 3 * steps, 3e-3), rel=1e-6)
    assert record["config"]["epochs"] == 3 and (tmp_path / "r" / "model.pt").exists()
    resumed, _ = checkpoint.load(tmp_path / "r" / "model.pt")
    assert any(not torch.equal(a, b) for a, b in zip(weights.state_dict().values(), resumed.state_dict().values()))


def test_resume_refuses_options_it_cannot_honour(tmp_path, small_dataset):
    out = str(tmp_path / "r")
    train(TrainConfig(out=out, epochs=2, **BASE), dataset=small_dataset, progress=False, stop_after=2)
    for change, says in (
        (dict(lr=1e-3), "--lr 0.003 and this run asks for --lr 0.001"),
        (dict(weight_decay=5e-4), "--weight-decay auto and this run asks for --weight-decay 0.0005"),
        (dict(arch="1.0"), "--arch 1.1 and this run asks for --arch 1.0"),
        (dict(batch_size=32), "--batch-size 64"),
        (dict(batch_norm=False), "--batch-norm True"),
        (dict(epochs=1), "already trained 2 epoch"),
    ):
        with pytest.raises(InputError, match=says):
            train(
                TrainConfig(out=out, **{"epochs": 2, **BASE, **change}),
                dataset=small_dataset,
                progress=False,
                resume=True,
            )


def test_cli_resume_with_more_epochs(tmp_path):
    """A run and its resume, through the click command: no traceback, three epochs in the record."""
    args = [
        "train",
        "--data",
        "fashion-mnist",
        "--limit",
        "256",
        "--batch-size",
        "64",
        "--threads",
        "1",
        "--out",
        str(tmp_path / "R"),
    ]
    runner = CliRunner()
    first = runner.invoke(main, [*args, "--epochs", "1"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, [*args, "--epochs", "3", "--resume"])
    assert again.exit_code == 0, repr(again.exception)
    assert [h["epoch"] for h in json.loads((tmp_path / "R" / "metrics.json").read_text())["history"]] == [1, 2, 3]
    refused = runner.invoke(main, [*args, "--epochs", "3", "--resume", "--lr", "0.01"])
    assert refused.exit_code == 2 and refused.exception.__class__ is SystemExit
    assert "--lr 0.002 and this run asks for --lr 0.01" in refused.output
    decay = runner.invoke(main, [*args, "--epochs", "3", "--resume", "--weight-decay", "0.1"])
    assert decay.exit_code == 2 and "--weight-decay auto and this run asks for --weight-decay 0.1" in decay.output
