"""Interleaved timing: every engine runs a block in every round, so drift on a shared machine hits all alike."""

from __future__ import annotations

import time

import numpy as np

from sqz.runtime.bench import summarize, time_calls


def interleaved(
    engines: list, rounds: int, per_round: int, warmup: int, settle_s: float = 0.005, block_s: float = 1.0
) -> dict:
    """{key: summary} with per-call medians, spread (p90/min) and each engine's median ratio to the first
    engine (the reference) over rounds. Each block starts with a short pause and two untimed calls, so
    thread pools of the previous engine stop spinning before timing resumes; a block stops early (after
    at least 3 calls) once it has run `block_s`, so one pathologically slow engine cannot stall the bench."""
    for e in engines:
        time_calls(e.call, e.inputs, 0, warmup)
    samples = {e.key: [] for e in engines}
    round_medians = {e.key: [] for e in engines}
    for r in range(rounds):
        order = engines[r % len(engines) :] + engines[: r % len(engines)]
        for e in order:
            time.sleep(settle_s)
            time_calls(e.call, e.inputs, 0, 2)
            ts, t0 = [], time.perf_counter()
            while len(ts) < per_round and (len(ts) < 3 or time.perf_counter() - t0 < block_s):
                ts += time_calls(e.call, e.inputs[len(ts) % len(e.inputs) :], 1, 0)
            samples[e.key] += ts
            round_medians[e.key].append(float(np.median(ts)))
    ref = np.asarray(round_medians[engines[0].key])
    out = {}
    for e in engines:
        s = summarize(samples[e.key])
        ratio = float(np.median(np.asarray(round_medians[e.key]) / ref))
        out[e.key] = {
            "latency_ms": s,
            "spread_p90_over_min": s["p90"] / s["min"],
            "runs": len(samples[e.key]),
            "ratio_to_reference": ratio,
            "speedup_vs_reference": 1.0 / ratio,
        }
    return out
