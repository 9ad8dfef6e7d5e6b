"""Training to a budget: the chosen metaparameters fit and the next larger step does not; the warning."""

from __future__ import annotations

import dataclasses

import pytest

from sqz.errors import BudgetError
from sqz.fit.plan import SPACE, choose, over_warning, placements, train_plan
from sqz.fit.size import predict
from sqz.train.arch import ArchConfig


def _bigger(meta: dict) -> list[dict]:
    """The chosen configuration with one metaparameter one step up the design space."""
    out = []
    for k, values in SPACE.items():
        i = values.index(meta[k])
        if i + 1 < len(values):
            out.append({**meta, k: values[i + 1]})
    return out


def test_budget_choice_fits_and_one_step_larger_does_not():
    for size, channels in ((224, 3), (96, 3), (32, 1)):
        chosen = choose("1.1", size, channels, 10, "0.5MB")
        cfg = ArchConfig(
            num_classes=10,
            in_channels=channels,
            stem_stride=chosen["stem_stride"],
            pools=tuple(chosen["pools"]),
            **chosen["metaparameters"],
        )
        assert predict(cfg, size)["file_bytes"] == chosen["file_bytes"] <= 500_000
        larger = [predict(dataclasses.replace(cfg, **m), size) for m in _bigger(chosen["metaparameters"])]
        grew = [p for p in larger if p["parameters"] > chosen["parameters"]]
        assert grew and all(p["file_bytes"] > 500_000 for p in grew)


def test_budget_choice_has_the_most_parameters_of_what_fits():
    space = {"base_e": (64, 96, 128), "incr_e": (64, 128), "pct3x3": (0.25, 0.5), "sr": (0.125,), "freq": (2,)}
    chosen = choose("1.1", 224, 3, 10, "0.5MB", space=space)
    best = 0
    for b in space["base_e"]:
        for i in space["incr_e"]:
            for p in space["pct3x3"]:
                r = predict(ArchConfig(num_classes=10, in_channels=3, base_e=b, incr_e=i, pct3x3=p), 224)
                if r["file_bytes"] <= 500_000:
                    best = max(best, r["parameters"])
    assert chosen["parameters"] == best > 0


def test_no_configuration_fits_a_tiny_budget():
    assert choose("1.1", 224, 3, 10, "10KB")["metaparameters"] is None


def test_warning_for_224_rgb_not_for_fashion_mnist():
    note, warning = over_warning("1.1", 224, 3, 10)
    assert warning and "817,096 B" in warning and "--budget" in warning and note["fits"] is False
    note, warning = over_warning("1.1", 32, 1, 10)
    assert warning is None and note["predicted_bytes"] == 406_136


def test_train_plan_logs_and_returns_the_choice():
    said = []
    planned = train_plan("1.1", "0.5MB", log=said.append)(224, 3, 10)
    assert planned["metaparameters"] and planned["size_plan"]["predicted_bytes"] <= 500_000
    assert said and "predicted full-int8 file" in said[0]
    said.clear()
    assert train_plan("1.1", None, log=said.append)(96, 3, 10)["size_plan"]["fits"] is False
    assert len(said) == 1 and said[0].startswith("warning: the full-int8 export")
    said.clear()
    assert train_plan("1.1", None, log=said.append)(32, 1, 10)["size_plan"]["fits"]
    assert len(said) == 1 and said[0].startswith("note: at 32x32")
    said.clear()
    placed = {"stem_stride": 2, "pools": (1, 3, 5)}
    assert train_plan("1.1", None, log=said.append, placement=placed)(32, 1, 10)["size_plan"]["fits"] and not said


def test_placements_are_searched_only_where_they_change_the_file():
    """At 224² no placement has dead taps (all give the same file; later ones only cost compute)."""
    assert placements("1.1", 224, 3, 10) == [(2, (0, 2, 4))]
    small = placements("1.1", 28, 1, 10)
    assert small[0] == (2, (0, 2, 4)) and (2, (2, 4, 6)) in small and (1, (0, 2, 4)) in small
    assert placements("1.0", 32, 1, 10)[0] == (2, (0, 3, 7)) and len(placements("1.0", 32, 1, 10)) > 1


@pytest.mark.parametrize("budget", ["0.5MB", "0.3MB"])
def test_budget_choice_over_placements_has_the_most_parameters_ties_to_later_down_sampling(budget):
    """Brute force over a small space and every searched placement at 32² grey."""
    from sqz.quantize import graph as graph_mod

    space = {"base_e": (64, 96, 128), "incr_e": (32, 64), "pct3x3": (0.5,), "sr": (0.125, 0.25), "freq": (2,)}
    chosen = choose("1.1", 32, 1, 10, budget, space=space)
    fits = []
    for stride, pools in placements("1.1", 32, 1, 10):
        for b in space["base_e"]:
            for i in space["incr_e"]:
                for sr in space["sr"]:
                    cfg = ArchConfig(
                        num_classes=10, in_channels=1, base_e=b, incr_e=i, sr=sr, stem_stride=stride, pools=pools
                    )
                    r = predict(cfg, 32)
                    if r["file_bytes"] <= parse(budget):
                        fits.append((r["parameters"], sum(h * h for h in graph_mod.fire_sides(cfg, 32)), stride, pools))
    best = max(fits)
    assert (chosen["parameters"], chosen["stem_stride"], tuple(chosen["pools"])) == (best[0], best[2], best[3])
    cfg = ArchConfig(
        num_classes=10,
        in_channels=1,
        stem_stride=chosen["stem_stride"],
        pools=tuple(chosen["pools"]),
        **chosen["metaparameters"],
    )
    assert predict(cfg, 32)["file_bytes"] == chosen["file_bytes"] <= parse(budget)


def test_a_given_placement_is_kept_by_the_budget_plan():
    planned = train_plan("1.1", "0.5MB", log=lambda m: None, placement={"stem_stride": 2, "pools": (2, 4, 6)})(
        32, 1, 10
    )
    assert planned["placement"] == {"stem_stride": 2, "pools": (2, 4, 6)}
    assert planned["size_plan"]["pools"] == [2, 4, 6] and planned["size_plan"]["predicted_bytes"] <= 500_000


def parse(budget: str) -> int:
    from sqz.gate.budget import parse_budget

    return parse_budget(budget)


def test_placement_note_names_the_latest_placement_that_fits():
    """At 32² the published 1.1 leaves fires 6-9 on 1x1 maps: the note names --pools 1,3,5 (482,136 B; 2,4,6 and
    stem stride 1 are over 500,000 B); at 96² there is nothing to say."""
    from sqz.fit.plan import placement_note

    note = placement_note("1.1", 32, 1, 10)
    assert note.startswith("note: at 32x32 fires 6, 7, 8, 9 see 1x1 maps; --pools 1,3,5") and "479,864 B" in note
    assert placement_note("1.1", 32, 1, 10, budget="400KB") is None
    assert placement_note("1.1", 96, 3, 10) is None


def test_default_budget_applies_only_without_architecture_options_or_init():
    from sqz.fit.plan import default_budget

    assert default_budget(None, False, "") == ("0.5MB", "no architecture options: the default budget 0.5MB")
    assert default_budget("none", False, "")[0] == default_budget("NONE", False, "")[0] == ""
    assert default_budget("300KB", True, "")[0] == "300KB"
    assert default_budget(None, True, "")[0] == "" and default_budget(None, False, "w.pth")[0] == ""
    with pytest.raises(BudgetError):
        default_budget("lots", False, "")


def test_sqz_train_with_no_options_trains_what_fits_and_says_why(tmp_path):
    """At 64² RGB the published 1.1 exports to 819,424 B: the default run trains the configuration chosen for
    0.5 MB and prints why; --budget none trains the published network (with the warning); --flip is recorded."""
    import json

    import numpy as np
    from click.testing import CliRunner

    from sqz.cli import main
    from sqz.train import checkpoint

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (40, 64, 64, 3), dtype=np.uint8), y=np.arange(40) % 10)
    base = ["train", "--data", str(tmp_path / "d.npz"), "--epochs", "1", "--batch-size", "8", "--limit", "16"]
    r = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "a"), "--flip"])
    assert r.exit_code == 0, r.output[-2000:]
    assert "no architecture options: the default budget 0.5MB" in r.output and "--budget none trains it" in r.output
    rec = json.loads((tmp_path / "a" / "metrics.json").read_text())
    chosen = choose("1.1", 64, 3, 10)
    assert rec["size_plan"]["metaparameters"] == chosen["metaparameters"] and rec["size_plan"]["fits"]
    assert rec["size_plan"]["published_bytes"] > 500_000 >= rec["size_plan"]["predicted_bytes"]
    assert rec["augmentation"]["flip"] is True and rec["config"]["budget"] == "0.5MB"
    model, _ = checkpoint.load(tmp_path / "a" / "model.pt")
    assert model.cfg.base_e == chosen["metaparameters"]["base_e"]
    assert predict(model.cfg, 64)["file_bytes"] <= 500_000
    r = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "b"), "--budget", "none"])
    assert r.exit_code == 0 and "warning: the full-int8 export" in r.output
    model, _ = checkpoint.load(tmp_path / "b" / "model.pt")
    assert (model.cfg.base_e, model.cfg.sr) == (128, 0.125)
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["augmentation"]["flip"] is False
