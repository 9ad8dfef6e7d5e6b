"""Training to a budget: the chosen metaparameters fit and the next larger step does not; the warning."""

from __future__ import annotations

import dataclasses

from sqz.export.fit import SPACE, choose, over_warning, train_plan
from sqz.export.size import predict
from sqz.train.model import ArchConfig


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
        cfg = ArchConfig(num_classes=10, in_channels=channels, **chosen["metaparameters"])
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
    assert warning and "819,424 B" in warning and "--budget" in warning and note["fits"] is False
    note, warning = over_warning("1.1", 32, 1, 10)
    assert warning is None and note["predicted_bytes"] == 408_408


def test_train_plan_logs_and_returns_the_choice():
    said = []
    planned = train_plan("1.1", "0.5MB", log=said.append)(224, 3, 10)
    assert planned["metaparameters"] and planned["size_plan"]["predicted_bytes"] <= 500_000
    assert said and "predicted full-int8 file" in said[0]
    said.clear()
    assert train_plan("1.1", None, log=said.append)(32, 1, 10)["size_plan"]["fits"] and not said
