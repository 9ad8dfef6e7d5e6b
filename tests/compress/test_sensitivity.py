import torch

from sqz.compress.sensitivity import FRACTIONS, allocate, estimate, floors, logits, measure
from sqz.fit.size import lower_bound, predict
from sqz.fit.widths import counts, groups, with_counts
from sqz.quantize.graph import ops
from sqz.train.arch import ArchConfig
from sqz.train.model import build
from sqz.train.surgery import remove_dead_taps

CFG = ArchConfig(num_classes=10, in_channels=1)


def _fits(budget):
    return lambda cfg: predict(cfg, 32)["file_bytes"] <= budget


def test_allocation_prunes_the_insensitive_group_first_and_fits():
    sens = {g: [1.0, 2.0, 3.0] for g in groups(CFG)}
    sens[(7, "expand1x1")] = [0.0, 0.0, 0.0]
    start = predict(CFG, 32)["file_bytes"]
    cfg = allocate(CFG, sens, _fits(start - 15_000))
    assert predict(cfg, 32)["file_bytes"] <= start - 15_000
    changed = {g for g, n in counts(cfg).items() if n != counts(CFG)[g]}
    assert changed == {(7, "expand1x1")}


def test_allocation_spreads_when_one_group_is_not_enough_and_refuses_the_impossible():
    sens = {g: [0.1, 0.5, 2.0] for g in groups(CFG)}
    start = predict(CFG, 32)["file_bytes"]
    cfg = allocate(CFG, sens, _fits(start // 2))
    assert predict(cfg, 32)["file_bytes"] <= start // 2
    assert all(counts(cfg)[g] >= floors(CFG)[g] for g in sens)
    assert estimate(cfg) < estimate(CFG)
    assert allocate(CFG, sens, _fits(10_000)) is None


def test_the_ranking_estimate_saves_the_bytes_the_size_floor_saves():
    for cfg in (CFG, ArchConfig.named("1.0", num_classes=5, in_channels=3)):
        smaller = with_counts(cfg, {(0, "squeeze"): 7, (3, "expand3x3"): 100, (7, "expand1x1"): 200})
        saved = lower_bound(ops(cfg, 224)) - lower_bound(ops(smaller, 224))
        assert estimate(cfg) - estimate(smaller) == saved > 0


def test_measured_sensitivity_is_zero_for_dead_channels_and_rises_with_the_fraction():
    torch.manual_seed(0)
    model = remove_dead_taps(build(CFG).eval(), 32)[0]
    torch.nn.init.normal_(model.classifier[1].weight, 0.0, 0.5)
    with torch.no_grad():
        c = model.features[-1].expand1x1[0]
        c.weight[: c.out_channels * 3 // 4] = 0
        c.bias[: c.out_channels * 3 // 4] = 0
    x = torch.randn(64, 1, 32, 32)
    sens = measure(model, x, logits(model, x), progress=False)
    assert set(sens) == set(groups(model.cfg)) and all(len(v) == len(FRACTIONS) for v in sens.values())
    assert sens[(7, "expand1x1")] == [0.0, 0.0, 0.0]
    assert all(a <= b for v in sens.values() for a, b in zip(v, v[1:]))
    assert max(v[-1] for v in sens.values()) > 0
