import pytest
import torch

from sqz.errors import InputError
from sqz.train.model import ArchConfig, build, count_parameters, fire_widths


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
@pytest.mark.parametrize("arch", ["1.0", "1.1", "1.1-bypass"])
def test_any_input_size_classes_and_channels(arch, size):
    model = build(ArchConfig.named(arch, num_classes=7, in_channels=1)).eval()
    assert model(torch.zeros(2, 1, size, size)).shape == (2, 7)


def test_unknown_arch_is_refused():
    with pytest.raises(ValueError, match="unknown arch"):
        ArchConfig.named("2.0")


def test_config_round_trips_through_a_dict():
    cfg = ArchConfig.named("1.0-bypass", num_classes=3, batch_norm=True, point_fires=(5, 6))
    assert ArchConfig.from_dict(cfg.to_dict()) == cfg


def test_metaparameters_given_on_the_cli_become_arch_fields():
    from sqz.train.model import metaparameters

    assert metaparameters(base_e=96, incr_e=None, pct3x3=0.25, sr=None, freq=None) == {"base_e": 96, "pct3x3": 0.25}
    with pytest.raises(InputError, match="unknown metaparameter"):
        metaparameters(width=3)


@pytest.mark.parametrize("kw,match", [({"base_e": 1}, "fire module 2 with 1 1x1 and 0 3x3"),
                                      ({"pct3x3": 0.999}, "0 1x1 and"), ({"freq": 0}, "freq >= 1")])
def test_metaparameters_that_leave_no_filters_are_refused(kw, match):
    with pytest.raises(InputError, match=match):
        build(ArchConfig(**kw))
