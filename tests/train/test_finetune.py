"""Fine-tuning passes (pruning, sharing, distillation) mirror images only when the run's training did."""

import pytest
import torch

from sqz.train import finetune as finetune_mod


@pytest.mark.parametrize("flip", [False, True])
def test_finetune_mirrors_only_when_asked(flip, monkeypatch):
    calls = []
    real = finetune_mod.random_flip
    monkeypatch.setattr(finetune_mod, "random_flip", lambda x, gen: calls.append(len(x)) or real(x, gen))
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2))
    x, y = torch.randn(8, 1, 8, 8), torch.tensor([0, 1] * 4)
    model(x)
    finetune_mod.finetune(model, x, y, torch.zeros(1), epochs=1, batch_size=4, progress=False, flip=flip)
    assert calls == ([4, 4] if flip else [])


@pytest.mark.parametrize("recorded, expected", [({"flip": False}, False), ({"flip": True}, True), ({}, True)])
def test_compression_follows_the_runs_mirroring(tmp_path, recorded, expected):
    """A run's recorded choice reaches the compression passes; a run from before --flip mirrored its images."""
    import numpy as np

    from sqz.compress.sparse import finetune_data
    from sqz.train.data import load

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8), y=np.arange(40) % 2)
    pre = load(str(tmp_path / "d.npz")).preprocess
    payload = {"preprocess": pre.to_dict(), "record": {"config": {"data": str(tmp_path / "d.npz"), **recorded}}}
    assert finetune_data(payload, tmp_path).flip is expected
