import pytest
import torch

from sqz.train import checkpoint
from sqz.train.arch import ArchConfig
from sqz.train.model import build, count_parameters
from sqz.train.surgery import dead_tap_fires, expand_input_sizes, fold_batchnorm, remove_dead_taps


def test_dead_taps_depend_on_input_size():
    model = build(ArchConfig(num_classes=10, in_channels=1))
    assert expand_input_sizes(model, 32)[4:] == [(1, 1)] * 4
    assert dead_tap_fires(model, 32) == [4, 5, 6, 7]
    assert dead_tap_fires(model, 64) == [] and dead_tap_fires(model, 224) == []


def test_removing_dead_taps_changes_no_output(tiny_run, small_dataset):
    model, _ = checkpoint.load(tiny_run / "model.pt")
    slim, dead = remove_dead_taps(model, 32)
    assert dead == [4, 5, 6, 7] and slim.cfg.point_fires == (4, 5, 6, 7)
    assert count_parameters(model) - count_parameters(slim) == 8 * (48 * 192 + 48 * 192 + 64 * 256 + 64 * 256)
    x = torch.randn(64, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), slim(x), atol=1e-5)
    again, none = remove_dead_taps(slim, 32)
    assert none == [] and again is slim


@pytest.mark.parametrize("arch,kw", [("1.1", {}), ("1.1-complex", {}), ("1.0-complex", {"freq": 1, "pools": (2, 5)})])
def test_folding_batchnorm_keeps_the_outputs(arch, kw):
    """Complex bypass: the 1x1 skip convolutions carry BatchNorm too, and fold like the others."""
    torch.manual_seed(0)
    model = build(ArchConfig.named(arch, num_classes=10, in_channels=1, batch_norm=True, **kw))
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 1, 32, 32))
    model.eval()
    plain = fold_batchnorm(model)
    assert not plain.cfg.batch_norm
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x), plain(x), atol=1e-4)


@pytest.mark.parametrize(
    "kw,dead",
    [
        ({}, [4, 5, 6, 7]),
        ({"pools": (2, 4, 6)}, [6, 7]),
        ({"pools": (2, 4)}, []),
        ({"stem_stride": 1}, []),
        ({"stem_stride": 1, "pools": (0, 2, 4, 6)}, [6, 7]),
    ],
)
def test_dead_taps_follow_the_pool_placement_and_stem_stride(kw, dead):
    """The probe pass and the size predictor's arithmetic agree on every placement."""
    from sqz.quantize.graph import dead_fires, fire_sides

    cfg = ArchConfig(num_classes=10, in_channels=1, **kw)
    model = build(cfg)
    assert dead_tap_fires(model, 32) == dead == dead_fires(cfg, 32)
    assert [hw for hw, _ in expand_input_sizes(model, 32)] == fire_sides(cfg, 32)
