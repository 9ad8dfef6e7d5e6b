import pytest
import torch

from sqz.compress.channels import conv, prune_to, slim
from sqz.fit.size import predict
from sqz.fit.widths import counts, groups, with_counts
from sqz.runtime.preprocess import Preprocess
from sqz.train import checkpoint
from sqz.train.arch import ArchConfig, fire_widths
from sqz.train.model import build, count_parameters
from sqz.train.surgery import remove_dead_taps


def _model(size: int, **kw):
    torch.manual_seed(0)
    model = build(ArchConfig(num_classes=10, in_channels=1, **kw)).eval()
    torch.nn.init.normal_(model.classifier[1].weight, 0.0, 0.5)
    return remove_dead_taps(model, size)[0]


@torch.no_grad()
def _zero_and_keep(model, chosen):
    """Zero every other channel (weights and bias) of each chosen group; return what to keep."""
    keep = {}
    for g in chosen:
        c = conv(model, g)
        gone = torch.arange(0, c.out_channels, 2)
        c.weight[gone] = 0
        c.bias[gone] = 0
        keep[g] = torch.arange(1, c.out_channels, 2)
    return keep


@pytest.mark.parametrize("size,bypass", [(32, False), (64, False), (32, True)])
def test_removing_zeroed_channels_leaves_the_logits_unchanged(size, bypass):
    model = _model(size, bypass=bypass)
    chosen = groups(model.cfg)
    keep = _zero_and_keep(model, chosen)
    x = torch.randn(4, 1, size, size)
    before = model(x)
    small = slim(model, keep)
    assert before.abs().max() > 0.01, "logits must not be trivially zero"
    torch.testing.assert_close(small(x), before, atol=1e-5, rtol=1e-5)
    assert count_parameters(small) < count_parameters(model)
    assert predict(small.cfg, size)["parameters"] == count_parameters(small)
    assert predict(small.cfg, size)["file_bytes"] < predict(model.cfg, size)["file_bytes"]


def test_removing_live_channels_changes_the_logits():
    model = _model(32)
    x = torch.randn(4, 1, 32, 32)
    small = slim(model, {(7, "expand1x1"): torch.arange(0, 256, 2)})
    assert (small(x) - model(x)).abs().max() > 1e-4


def test_bypass_ties_the_expands_and_keeps_squeeze_prunable():
    cfg = ArchConfig(num_classes=10, in_channels=1, bypass=True)
    assert groups(cfg) == [(i, "squeeze") for i in range(8)]
    assert len(groups(ArchConfig(num_classes=10, in_channels=1))) == 24
    model = _model(32, bypass=True)
    with pytest.raises(ValueError, match="bypass"):
        slim(model, {(0, "expand1x1"): torch.arange(10)})


def test_prune_to_keeps_the_most_important_channels():
    model = _model(32)
    c = conv(model, (2, "squeeze"))
    with torch.no_grad():
        c.weight[5] *= 100
    small = prune_to(model, {(2, "squeeze"): 3})
    assert counts(small.cfg)[(2, "squeeze")] == 3
    assert any(torch.equal(w, c.weight[5]) for w in conv(small, (2, "squeeze")).weight)


def test_explicit_widths_round_trip_and_old_dicts_still_load(tmp_path):
    cfg = with_counts(ArchConfig(num_classes=10, in_channels=1), {(3, "squeeze"): 7, (7, "expand3x3"): 9})
    assert fire_widths(cfg)[3][0] == 7 and fire_widths(cfg)[7][2] == 9
    assert ArchConfig.from_dict(cfg.to_dict()) == cfg
    old = ArchConfig(num_classes=10).to_dict()
    del old["widths"]
    assert ArchConfig.from_dict(old) == ArchConfig(num_classes=10)
    assert list(build(ArchConfig()).state_dict()) == list(build(ArchConfig.from_dict(old)).state_dict())
    model = build(cfg).eval()
    checkpoint.save(tmp_path / "m.pt", model, Preprocess(), tuple("abcdefghij"), {})
    loaded, _ = checkpoint.load(tmp_path / "m.pt")
    assert loaded.cfg == cfg and count_parameters(loaded) == count_parameters(model)
