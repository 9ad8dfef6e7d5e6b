import json

import pytest
from click.testing import CliRunner

from sqz.cli import main
from sqz.errors import InputError
from sqz.train import schedule
from sqz.train.loop import TrainConfig, train


@pytest.mark.parametrize(
    "n_train, world, batch, epochs",
    [
        (55_000, 1, 128, 40),  # Fashion-MNIST less its validation share: 430 steps an epoch, the 40-epoch minimum
        (2_750, 1, 32, 47),  # 3,000 images less validation: 86 steps an epoch, 47 epochs reach 4,000 steps
        (5_000, 1, 64, 51),  # 79 steps an epoch
        (730, 1, 16, 87),  # 800 images: the smallest batch, 46 steps an epoch
        (100, 1, 16, 300),  # 7 steps an epoch: capped at the maximum
        (5_500, 2, 32, 47),  # two processes: each sees half, in batches of its own
    ],
)
def test_auto_picks_the_batch_and_the_epochs_from_the_set_size(n_train, world, batch, epochs):
    assert schedule.auto_batch(n_train, world) == batch
    assert schedule.auto_epochs(n_train, batch, world) == epochs
    got_epochs, got_batch, line = schedule.resolve("auto", "auto", n_train, world)
    assert (got_epochs, got_batch) == (epochs, batch)
    assert line.startswith(f"epochs auto: {epochs}, batch auto: {batch} (")


@pytest.mark.parametrize(
    "n, world, batch, steps",
    [
        (1, 1, 16, 1),  # one image still makes a step
        (64, 1, 64, 1),  # an exact batch: no empty step
        (65, 1, 64, 2),  # one image over: a short last batch
        (55_000, 1, 128, 430),
        (5_500, 2, 32, 86),  # each process sees 2,750
        (1_001, 3, 64, 6),  # 334 per process (padded by wrapping), the last batch short
    ],
)
def test_steps_per_epoch_is_the_batches_each_process_trains_on(n, world, batch, steps):
    import numpy as np
    import torch

    from sqz.runtime.preprocess import Preprocess
    from sqz.train import distributed
    from sqz.train.data import Dataset, Split
    from sqz.train.memory import MemorySource

    assert schedule.steps_per_epoch(n, batch, world) == steps
    images = Split(np.zeros((n, 2, 2, 1), np.uint8), np.zeros(n, np.int64))
    pre = Preprocess(size=2, content=2, channels=1)
    src = MemorySource(Dataset("tiny", images, images, ("a",), pre), seed=0, val_fraction=0.0, limit=0)
    for rank in range(world):
        ctx = distributed.Context(rank=rank, world=world)
        got = [len(y) for _, y, _ in src.train_batches(0, ctx, torch.Generator().manual_seed(0), batch)]
        assert len(got) == steps and sum(got) == -(-n // world)


def test_warm_up_lasts_a_few_epochs_not_a_share_of_a_long_run():
    assert schedule.warmup_share(134) == pytest.approx(schedule.WARMUP_EPOCHS / 134)
    assert schedule.warmup_share(4) == schedule.WARMUP_MAX_SHARE


def test_a_fresh_classifier_starts_every_logit_above_the_relu():
    import torch

    from sqz.train.arch import ArchConfig
    from sqz.train.model import build

    net = build(ArchConfig(num_classes=10, in_channels=1, batch_norm=True)).eval()
    with torch.no_grad():
        logits = net(torch.randn(64, 1, 32, 32))
    assert (logits > 0).all(), "a class clamped at 0 for every image gets no gradient"


def test_numbers_given_are_kept():
    assert schedule.resolve(8, 128, 2_750)[:2] == (8, 128)
    assert schedule.resolve("auto", 128, 2_750)[:2] == (182, 128)  # 22 steps an epoch
    assert schedule.resolve(8, "auto", 2_750)[:2] == (8, 32)


@pytest.mark.parametrize("bad", [0, -3, "0", "abc", "1.5", 2.5, True, None, ""])
def test_bad_counts_are_refused_in_one_line(bad):
    with pytest.raises(InputError, match="whole number of at least 1, or auto"):
        schedule.parse(bad)
    assert schedule.parse(" AUTO ") == "auto" and schedule.parse("12") == 12 and schedule.parse(12) == 12


def test_weight_decay_auto_follows_the_channels_and_a_number_is_kept():
    assert schedule.resolve_decay("auto", 3) == (schedule.DECAY_RGB, "weight decay auto: 0.01 (RGB input)")
    assert schedule.resolve_decay(" Auto ", 1) == (schedule.DECAY_GREY, "weight decay auto: 0.0005 (grey input)")
    assert schedule.resolve_decay("0.1", 3) == (0.1, "weight decay given: 0.1")
    assert schedule.resolve_decay(0, 1)[0] == 0.0


@pytest.mark.parametrize("bad", [-0.1, "-1", "abc", "nan", True, None, ""])
def test_bad_weight_decays_are_refused_in_one_line(bad):
    with pytest.raises(InputError, match="--weight-decay .*: give a number of at least 0, or auto"):
        schedule.parse_decay(bad)


@pytest.fixture
def short_auto(monkeypatch):
    """`auto` made cheap: 2 epochs of a 256-image run (4 steps an epoch at batch 64 → 8 steps)."""
    monkeypatch.setattr(schedule, "TARGET_STEPS", 8)
    monkeypatch.setattr(schedule, "MIN_EPOCHS", 1)
    monkeypatch.setattr(schedule, "BATCH_SHARE", 3)  # 256 training images / 3 → batch 64


def test_auto_is_recorded_and_resumed_as_auto(tmp_path, small_dataset, short_auto):
    base = dict(out=str(tmp_path / "r"), limit=256, lr=3e-3, seed=3, threads=1)
    cut = train(TrainConfig(**base), dataset=small_dataset, progress=False, stop_after=1)
    assert cut["config"]["epochs"] == "auto" and cut["config"]["batch_size"] == "auto"
    assert cut["config"]["weight_decay"] == "auto" and cut["weight_decay"] == schedule.DECAY_GREY  # grey input
    assert (cut["epochs"], cut["batch_size"], cut["steps_per_epoch"], cut["optimizer_steps"]) == (2, 64, 4, 8)
    assert len(cut["history"]) == 1
    done = train(TrainConfig(**base), dataset=small_dataset, progress=False, resume=True)
    assert [r["epoch"] for r in done["history"]] == [1, 2] and done["epochs"] == 2
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["config"]["epochs"] == "auto"


def test_resume_refuses_auto_when_it_picks_fewer_epochs_than_done(tmp_path, small_dataset, short_auto):
    base = dict(out=str(tmp_path / "r"), limit=256, lr=3e-3, seed=3, threads=1, batch_size=64)
    train(TrainConfig(epochs=3, **base), dataset=small_dataset, progress=False, stop_after=3)
    with pytest.raises(InputError, match="already trained 3 epoch.*asks for 2; give --epochs 3 or more"):
        train(TrainConfig(epochs="auto", **base), dataset=small_dataset, progress=False, resume=True)


def test_cli_prints_the_epochs_auto_chose(tmp_path, short_auto):
    r = CliRunner().invoke(
        main, ["train", "--data", "fashion-mnist", "--limit", "256", "--threads", "1", "--out", str(tmp_path / "R")]
    )
    assert r.exit_code == 0, r.output
    assert "epochs auto: 2, batch auto: 64 (4 optimiser steps per epoch on 256 training images, 8 in all" in r.output
    assert "weight decay auto: 0.0005 (grey input)" in r.output
    bad = CliRunner().invoke(main, ["train", "--epochs", "many", "--out", str(tmp_path / "X")])
    assert bad.exit_code == 2 and "whole number of at least 1, or auto" in bad.output
