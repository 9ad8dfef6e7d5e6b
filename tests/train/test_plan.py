"""The `plan` hook of the training loop: metaparameters chosen once the data is known, recorded in the run."""

from __future__ import annotations

import json

import numpy as np

from sqz.train import checkpoint
from sqz.train.data import from_arrays
from sqz.train.loop import TrainConfig, train


def _tiny(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (48, 28, 28, 1), dtype=np.uint8)
    return from_arrays("tiny", x, np.arange(48) % 3, None, 0.25, seed)


def test_plan_sets_metaparameters_and_is_recorded(tmp_path):
    seen = []

    def plan(size, channels, classes):
        seen.append((size, channels, classes))
        return {"metaparameters": {"base_e": 32, "incr_e": 16}, "size_plan": {"predicted_bytes": 1234}}

    cfg = TrainConfig(out=str(tmp_path), epochs=1, batch_size=16, budget="0.5MB")
    record = train(cfg, dataset=_tiny(), progress=False, plan=plan)
    assert seen == [(32, 1, 3)]
    model, payload = checkpoint.load(tmp_path / "model.pt")
    assert model.cfg.base_e == 32 and model.cfg.incr_e == 16
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["size_plan"] == {"predicted_bytes": 1234} == record["size_plan"]
    assert saved["config"]["metaparameters"] == {"base_e": 32, "incr_e": 16} and saved["config"]["budget"] == "0.5MB"
    assert cfg.metaparameters == {}


def test_resume_replans_to_the_same_metaparameters(tmp_path):
    plan = lambda s, c, k: {"metaparameters": {"base_e": 32}}
    cfg = TrainConfig(out=str(tmp_path), epochs=2, batch_size=16)
    train(cfg, dataset=_tiny(), progress=False, plan=plan, stop_after=1)
    record = train(cfg, resume=True, dataset=_tiny(), progress=False, plan=plan)
    assert len(record["history"]) == 2


def test_placement_from_the_config_or_the_plan_is_built_and_recorded(tmp_path):
    import pytest

    from sqz.errors import InputError

    cfg = TrainConfig(out=str(tmp_path / "a"), epochs=1, batch_size=16, stem_stride=1, pools=(2, 4, 6))
    train(cfg, dataset=_tiny(), progress=False)
    model, _ = checkpoint.load(tmp_path / "a" / "model.pt")
    assert model.cfg.stem_stride == 1 and model.cfg.pool_positions == (2, 4, 6)
    saved = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert saved["config"]["stem_stride"] == 1 and saved["config"]["pools"] == [2, 4, 6]
    plan = lambda s, c, k: {"placement": {"stem_stride": 2, "pools": (1, 3, 5)}}
    b = TrainConfig(out=str(tmp_path / "b"), epochs=2, batch_size=16)
    train(b, dataset=_tiny(), progress=False, plan=plan, stop_after=1)
    model, _ = checkpoint.load(tmp_path / "b" / "last.pt")
    assert model.cfg.pool_positions == (1, 3, 5)
    with pytest.raises(InputError, match="--pools"):
        train(b, resume=True, dataset=_tiny(), progress=False, plan=lambda s, c, k: {})
