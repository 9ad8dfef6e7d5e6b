"""bench/convert.py's figures and markdown, from made-up runs: medians, ratios, goals, the table (no venv, no run)."""

from __future__ import annotations

from bench import convert


def _run(tool, rnd, conv, wall, rss, onnx=1.0, ok=True, sha="a" * 64):
    if not ok:
        return {
            "tool": tool,
            "round": rnd,
            "ok": False,
            "wall_s": wall,
            "peak_rss_bytes": rss,
            "max_rss_bytes": rss,
            "error": "exit 1: boom",
        }
    return {
        "tool": tool,
        "round": rnd,
        "ok": True,
        "wall_s": wall,
        "peak_rss_bytes": 2 * rss,
        "max_rss_bytes": rss,
        "conversion_s": conv,
        "onnx_s": None if tool == "litert-torch" else onnx,
        "int8_bytes": 819_424,
        "float32_bytes": 2_900_000,
        "int8_sha256": sha,
        "calibration_images": 500,
    }


RUNS = [
    _run("sqz", 1, 10.0, 20.0, 500_000_000),
    _run("sqz", 2, 12.0, 22.0, 550_000_000),
    _run("sqz", 3, 11.0, 21.0, 520_000_000),
    _run("onnx2tf", 1, 40.0, 60.0, 6e9, sha="b" * 64),
    _run("onnx2tf", 2, 30.0, 50.0, 6.5e9, sha="b" * 64),
    _run("onnx2tf", 3, 0, 5.0, 1e8, ok=False),
    _run("litert-torch", 1, 20.0, 30.0, 1.1e9),
    _run("litert-torch", 2, 24.0, 33.0, 1.2e9),
    _run("litert-torch", 3, 22.0, 31.0, 1.15e9),
]


def test_medians_ratios_and_goals():
    s = convert.summarise(RUNS)
    assert s["sqz"]["conversion_s"] == {"median": 11.0, "min": 10.0, "max": 12.0, "n": 3}
    assert s["onnx2tf"]["rounds_ok"] == 2 and s["onnx2tf"]["conversion_s"]["median"] == 35.0
    assert s["onnx2tf"]["errors"] == ["exit 1: boom"]
    assert s["sqz"]["max_rss_bytes"] == 550_000_000  # the largest round, not the median
    r = convert.ratios(s)
    assert r["sqz/onnx2tf"]["conversion_s"] == round(11 / 35, 3)
    assert r["sqz/litert-torch"]["wall_s"] == round(21 / 31, 3)
    g = {x["goal"]: x["met"] for x in convert.goals("224", s, r)}
    assert g == {
        "sqz conversion at most ⅓ of onnx2tf's": True,
        "sqz conversion faster than litert-torch's": True,
        "sqz peak RSS (largest process) ≤ 600 MB": True,
    }
    assert len(convert.goals("default", s, r)) == 2  # the RSS goal is the 224² one


def test_missing_peer_gives_no_ratio():
    s = convert.summarise([r for r in RUNS if r["tool"] == "sqz"])
    r = convert.ratios(s)
    assert r["sqz/onnx2tf"]["conversion_s"] is None
    assert [x["met"] for x in convert.goals("224", s, r)] == [None, None, True]


def test_markdown_from_a_record():
    s = convert.summarise(RUNS)
    r = convert.ratios(s)
    rec = {
        "date": "2026-12-05T00:00:00+00:00",
        "command": "python -m bench.convert --rounds 3",
        "machine": {
            "cpu": "Test CPU",
            "cores": 2,
            "arch": "x86_64",
            "python": "3.11.7",
            "loadavg_start": [1.0, 1.0, 1.0],
            "loadavg_end": [2.5, 1.0, 1.0],
        },
        "settings": {"rounds": 3, "calib": 500},
        "duration_s": 600.0,
        "peers": {
            "onnx2tf": {
                "available": True,
                "commit": "1912957e1bca",
                "python": "/x/bench/.venv-onnx2tf/bin/python",
                "venv": {"versions": {"onnx2tf": "1.29.24"}},
            },
            "litert-torch": {"available": False, "why": "--no-peers"},
        },
        "models": {
            "224": {
                "title": "224: test model",
                "calibration": {"images": 500, "source": "s", "sha256": "c" * 64},
                "summary": s,
                "ratios": r,
                "goals": convert.goals("224", s, r),
            }
        },
    }
    md = convert.markdown(rec)
    assert "load average (1 min) 1.00 at start, 2.50 at end" in md and "`python -m bench.convert --rounds 3`" in md
    assert "Smoke settings" not in md
    row = next(ln for ln in md.splitlines() if ln.startswith("| conversion"))
    assert row == (
        "| conversion: TFLite float32 + int8, s | 11.0 (10.0–12.0) | 35.0 (30.0–40.0) "
        f"| 22.0 (20.0–24.0) | {11 / 35:.2f}× | {11 / 22:.2f}× |"
    )
    assert "| peak RSS, largest process (kernel high-water, largest round) | 550 MB | 6,500 MB | 1,200 MB |" in md
    assert "| rounds measured | 3/3 | 2/3 | 3/3 |" in md
    assert "onnx2tf path (sqz @1912957, onnx2tf 1.29.24)" in md
    assert "- Goal: sqz peak RSS (largest process) ≤ 600 MB: 550 MB — met." in md
    assert "- onnx2tf failed a round: exit 1: boom" in md
    assert "litert-torch: not measured — --no-peers." in md
    assert "byte-identical" not in md


def test_small_figures_keep_their_digits():
    assert convert._s({"median": 0.123, "min": 0.1, "max": 0.2, "n": 3}) == "0.12 (0.10–0.20)"
    assert convert._x(0.0107) == "0.011×" and convert._x(0.456) == "0.46×" and convert._x(None) == "—"
