import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DistributedSampler

from sqz.errors import InputError
from sqz.train import calibsample, checkpoint, distributed
from sqz.train.loop import ARTIFACTS, TrainConfig, train

RUN = dict(epochs=2, lr=3e-3, seed=0, threads=1)


@pytest.fixture(scope="module")
def fm_npz(tmp_path_factory, fmnist):
    """3,000 real Fashion-MNIST training and 600 test images as an .npz."""
    path = tmp_path_factory.mktemp("npz") / "fm3k.npz"
    idx = np.random.default_rng(1).permutation(len(fmnist.train))[:3000]
    np.savez(
        path,
        x_train=fmnist.train.x[idx],
        y_train=fmnist.train.y[idx],
        x_test=fmnist.test.x[:600],
        y_test=fmnist.test.y[:600],
    )
    return path


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, fm_npz):
    """`sqz train` under torchrun: 2 gloo processes on CPU, 32 images per process per step."""
    tmp = tmp_path_factory.mktemp("ddp")
    out, logs = tmp / "run", tmp / "logs"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "--log-dir",
        str(logs),
        "--redirects",
        "3",
        "-m",
        "sqz.cli",
        "train",
        "--data",
        str(fm_npz),
        "--batch-size",
        "32",
        "--out",
        str(out),
        "--epochs",
        "2",
        "--lr",
        "3e-3",
        "--threads",
        "1",
        "--budget",
        "none",
    ]  # the published network, as the one-process Python API run it is compared with
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, {
        r: tuple(next(logs.rglob(f"{r}/{name}")).read_text() for name in ("stdout.log", "stderr.log")) for r in (0, 1)
    }


def test_shards_are_distributed_samplers(fmnist):
    for n, world, epoch in ((10, 3, 0), (1001, 4, 7), (5, 2, 1)):
        for rank in range(world):
            sampler = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True, seed=11)
            sampler.set_epoch(epoch)
            assert distributed.shard(n, epoch, 11, rank, world).tolist() == list(sampler)
    parts = [set(distributed.shard(1000, 3, 0, r, 4).tolist()) for r in range(4)]
    assert set.union(*parts) == set(range(1000)) and sum(map(len, parts)) == 1000
    assert distributed.shard(1000, 3, 0, 0, 4).tolist() != distributed.shard(1000, 4, 0, 0, 4).tolist()


def test_torchrun_two_processes_train_like_one(two_process_run, fm_npz, tmp_path):
    out, logs = two_process_run
    expected = ARTIFACTS + (calibsample.SAMPLE_FILE,)
    assert sorted(p.name for p in out.iterdir()) == sorted(expected), "one set of files, no temp files"
    record = json.loads((out / "metrics.json").read_text())
    assert record["world_size"] == 2 and record["effective_batch_size"] == 64
    assert record["train_images"] == 2750 and record["test_images"] == 600
    assert [h["epoch"] for h in record["history"]] == [1, 2]
    rank0_out, rank0_err = logs[0]
    rank1_out, rank1_err = logs[1]
    assert rank0_out.count("epoch 1/2  loss") == 1 and "test accuracy" in rank0_out
    assert rank1_out.strip() == "" and "epoch" not in rank1_err, "rank 1 prints no log lines or progress bars"
    state = checkpoint.load_raw(out / "last.pt")["resume"]
    assert state["world_size"] == 2 and len(state["rng_ranks"]) == 2
    assert not torch.equal(state["rng_ranks"][0]["gen"], state["rng_ranks"][1]["gen"]), "ranks augment apart"

    single = train(TrainConfig(data=str(fm_npz), out=str(tmp_path / "one"), batch_size=64, **RUN), progress=False)
    assert single["test_acc"] > 0.25 and record["test_acc"] > 0.25, "both should learn well past 10 % chance"
    assert abs(record["test_acc"] - single["test_acc"]) < 0.12, (record["test_acc"], single["test_acc"])


def test_resuming_with_another_process_count_is_refused(two_process_run, fm_npz, tmp_path):
    out, _ = two_process_run
    with pytest.raises(InputError, match="written by 2 process"):
        train(TrainConfig(data=str(fm_npz), out=str(out), batch_size=32, **RUN), resume=True, progress=False)
