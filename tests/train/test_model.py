import pytest
import torch

from sqz.errors import InputError
from sqz.train.arch import ArchConfig, fire_widths
from sqz.train.model import build, count_parameters


@pytest.mark.parametrize("arch,params", [("1.0", 1_248_424), ("1.1", 1_235_496)])
def test_published_parameter_counts(arch, params):
    assert count_parameters(build(ArchConfig.named(arch))) == params


def test_bypass_adds_no_parameters_and_changes_output():
    torch.manual_seed(0)
    plain = build(ArchConfig.named("1.1", num_classes=10, in_channels=1))
    bypass = build(ArchConfig.named("1.1-bypass", num_classes=10, in_channels=1))
    bypass.load_state_dict(plain.state_dict())
    x = torch.randn(2, 1, 32, 32)
    assert count_parameters(plain) == count_parameters(bypass)
    assert sum(f.bypass for f in bypass.features if hasattr(f, "bypass")) == 4
    assert not torch.allclose(plain.eval()(x), bypass.eval()(x))


def test_metaparameters_follow_the_paper_formula():
    w = fire_widths(ArchConfig())
    assert w[0] == (16, 64, 64) and w[7] == (64, 256, 256)
    narrow = fire_widths(ArchConfig(base_e=96, incr_e=96, pct3x3=0.25))
    assert narrow[0] == (12, 72, 24)
    assert count_parameters(build(ArchConfig(pct3x3=0.25))) < count_parameters(build(ArchConfig()))


@pytest.mark.parametrize("size", [32, 64, 224])
@pytest.mark.parametrize("arch", ["1.0", "1.1", "1.1-bypass", "1.0-complex"])
def test_any_input_size_classes_and_channels(arch, size):
    model = build(ArchConfig.named(arch, num_classes=7, in_channels=1)).eval()
    assert model(torch.zeros(2, 1, size, size)).shape == (2, 7)


def test_unknown_arch_is_refused():
    with pytest.raises(InputError, match="unknown arch"):
        ArchConfig.named("2.0")


def test_config_round_trips_through_a_dict():
    cfg = ArchConfig.named("1.0-bypass", num_classes=3, batch_norm=True, point_fires=(5, 6))
    assert ArchConfig.from_dict(cfg.to_dict()) == cfg


def test_metaparameters_given_on_the_cli_become_arch_fields():
    from sqz.train.arch import metaparameters

    assert metaparameters(base_e=96, incr_e=None, pct3x3=0.25, sr=None, freq=None) == {"base_e": 96, "pct3x3": 0.25}
    with pytest.raises(InputError, match="unknown metaparameter"):
        metaparameters(width=3)


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"base_e": 1}, "fire module 2 with 1 1x1 and 0 3x3"),
        ({"pct3x3": 0.999}, "0 1x1 and"),
        ({"freq": 0}, "freq >= 1"),
    ],
)
def test_metaparameters_that_leave_no_filters_are_refused(kw, match):
    with pytest.raises(InputError, match=match):
        build(ArchConfig(**kw))


@pytest.mark.parametrize("arch,fires", [("1.1", [2, 3, 5, 6, 8, 9, 10, 11]), ("1.0", [2, 3, 4, 6, 7, 8, 9, 11])])
def test_published_placement_keeps_the_module_indices(arch, fires):
    """Default and explicitly published pools build the same modules, so old checkpoints keep loading."""
    from sqz.train.arch import PUBLISHED_POOLS
    from sqz.train.model import Fire

    default = build(ArchConfig.named(arch))
    explicit = ArchConfig.named(arch, pools=PUBLISHED_POOLS[arch], stem_stride=2)
    assert explicit == ArchConfig.named(arch) and explicit.pools == ()
    assert [i for i, m in enumerate(default.features) if isinstance(m, Fire)] == fires
    assert list(build(explicit).state_dict()) == list(default.state_dict())


def test_an_old_record_loads_unchanged():
    old = {
        "version": "1.1",
        "num_classes": 10,
        "in_channels": 1,
        "base_e": 128,
        "incr_e": 128,
        "pct3x3": 0.5,
        "sr": 0.125,
        "freq": 2,
        "bypass": True,
        "batch_norm": True,
        "dropout": 0.5,
        "point_fires": [4, 5],
    }
    cfg = ArchConfig.from_dict(old)
    assert cfg == ArchConfig.named("1.1-bypass", num_classes=10, in_channels=1, batch_norm=True, point_fires=(4, 5))
    assert cfg.bypass == "simple" and cfg.stem_stride == 2 and cfg.pool_positions == (0, 2, 4)
    assert ArchConfig.from_dict({**old, "bypass": False}).name == "1.1"


def test_pools_and_stem_stride_move_the_down_sampling():
    late = ArchConfig(num_classes=10, in_channels=1, pools=(2, 4, 6), stem_stride=1)
    model = build(late).eval()
    pools = [i for i, m in enumerate(model.features) if isinstance(m, torch.nn.MaxPool2d)]
    assert pools == [3, 6, 9] and model.features[0][0].stride == (1, 1)
    assert count_parameters(model) == count_parameters(build(ArchConfig(num_classes=10, in_channels=1)))
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert ArchConfig.from_dict(late.to_dict()) == late and late.to_dict()["pools"] == [2, 4, 6]


@pytest.mark.parametrize(
    "kw,match",
    [({"pools": (0, 9)}, "positions 0 to 8"), ({"pools": (2, 2)}, "distinct"), ({"stem_stride": 3}, "give 1 or 2")],
)
def test_bad_placements_are_refused(kw, match):
    with pytest.raises(InputError, match=match):
        ArchConfig(**kw)


def test_pools_parse_from_the_command_line():
    from sqz.train.arch import parse_pools

    assert parse_pools("4, 0,2") == (0, 2, 4)
    for bad in ("a,b", "", "0,9"):
        with pytest.raises(InputError):
            parse_pools(bad)


@pytest.mark.parametrize("arch,conv_fires", [("1.1-complex", [0, 2, 4, 6]), ("1.0-complex", [0, 2, 4, 6])])
def test_complex_bypass_puts_a_1x1_conv_on_the_other_skips(arch, conv_fires):
    """The paper's Figure 2 (right): identity skips on fires 3, 5, 7, 9, 1x1 conv skips on fires 2, 4, 6, 8."""
    from sqz.train.model import Fire

    cfg = ArchConfig.named(arch, num_classes=10, in_channels=1)
    assert cfg.name == arch and cfg.bypass == "complex"
    fires = [m for m in build(cfg).features if isinstance(m, Fire)]
    assert [i for i, f in enumerate(fires) if f.shortcut is not None] == conv_fires
    assert [i for i, f in enumerate(fires) if f.bypass] == [1, 3, 5, 7]
    extra = sum(f.shortcut[0].weight.numel() + f.shortcut[0].bias.numel() for f in fires if f.shortcut is not None)
    simple = build(ArchConfig.named(arch.replace("complex", "bypass"), num_classes=10, in_channels=1))
    assert count_parameters(build(cfg)) == count_parameters(simple) + extra
    assert ArchConfig.from_dict(cfg.to_dict()) == cfg


def test_every_max_pool_sees_non_negative_activations():
    """The int8 export pads ceil-mode pools with zeros: exact only for inputs >= 0, so the complex
    bypass's 1x1 skip ends in a ReLU like every other convolution (all 8 fires get one with freq 1)."""
    torch.manual_seed(0)
    model = build(ArchConfig.named("1.0-complex", num_classes=5, in_channels=1, freq=1)).eval()
    seen = []
    for m in model.features:
        if isinstance(m, torch.nn.MaxPool2d):
            m.register_forward_hook(lambda mod, i, o: seen.append(float(i[0].min())))
    with torch.no_grad():
        model(torch.randn(2, 1, 64, 64))
    assert len(seen) == 3 and min(seen) >= 0
