"""How long and in what batches a run trains: `auto` picks the batch size from the training set's size and
the epochs from the optimiser steps an epoch gives, so a small folder gets enough steps for the one-cycle
schedule and a large one is not trained needlessly long."""

from __future__ import annotations

from sqz.errors import InputError

AUTO = "auto"
# First derived on 3,000 grey Fashion-MNIST PNGs; docs/training.md says what the defaults are and measures them.
TARGET_STEPS = 4000
MIN_EPOCHS = 40
MAX_EPOCHS = 300
BATCH_MAX, BATCH_MIN, BATCH_SHARE = 128, 16, 64
# AdamW's peak learning rate, and the decoupled weight decay `auto` picks (each step shrinks the weights by
# lr × decay): 0.01 for RGB input, where small photo folders overfit without it, 5e-4 (next to none) for grey input,
# where 0.01 measured lower; docs/training.md has the measurements.
PEAK_LR = 2e-3
DECAY_RGB, DECAY_GREY = 0.01, 5e-4
# One-cycle warm-up: WARMUP_EPOCHS epochs, at most WARMUP_MAX_SHARE of the run. A share of a long `auto` run
# (30 % of 115 epochs on 600 images) kept the learning rate near its floor for dozens of epochs.
WARMUP_EPOCHS, WARMUP_MAX_SHARE = 2, 0.3


def parse(value, option: str = "--epochs") -> int | str:
    """`auto` or a whole number ≥ 1 (from the CLI or the Python API)."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if isinstance(value, bool) or n < 1 or str(n) != str(value).strip():
        raise InputError(f"{option} {value}: give a whole number of at least 1, or auto")
    return n


def auto_batch(n_train: int, world: int = 1) -> int:
    """The batch size (per process) `auto` picks: the largest power of two ≤ 1/BATCH_SHARE of each process's
    share of the training images, within [BATCH_MIN, BATCH_MAX]."""
    share = -(-n_train // world) // BATCH_SHARE
    b = BATCH_MIN
    while b * 2 <= min(share, BATCH_MAX):
        b *= 2
    return b


def steps_per_epoch(n_train: int, batch_size: int, world: int = 1) -> int:
    """Optimiser steps per epoch of each process: its share of `n_train` images (rounded up, as
    `distributed.shard` draws it) in batches of `batch_size`."""
    per_process = -(-n_train // world)
    return -(-per_process // batch_size)


def auto_epochs(n_train: int, batch_size: int, world: int = 1) -> int:
    """The epochs `auto` picks: enough for TARGET_STEPS optimiser steps, within [MIN_EPOCHS, MAX_EPOCHS]."""
    per_epoch = steps_per_epoch(n_train, batch_size, world)
    return max(MIN_EPOCHS, min(MAX_EPOCHS, -(-TARGET_STEPS // max(1, per_epoch))))


def resolve(epochs, batch_size, n_train: int, world: int = 1) -> tuple[int, int, str]:
    """(epochs, batch size, one line saying how they were chosen) for the options as given (numbers or auto)."""
    epochs, batch_size = parse(epochs), parse(batch_size, "--batch-size")
    batch = auto_batch(n_train, world) if batch_size == AUTO else batch_size
    per_epoch = steps_per_epoch(n_train, batch, world)
    n = auto_epochs(n_train, batch, world) if epochs == AUTO else epochs
    why = (
        ""
        if epochs != AUTO
        else "; the minimum"
        if n == MIN_EPOCHS
        else "; the maximum"
        if n == MAX_EPOCHS
        else f"; ≥ {TARGET_STEPS:,} steps"
    )
    return (
        n,
        batch,
        (
            f"epochs {epochs if epochs == AUTO else 'given'}: {n}, batch "
            f"{batch_size if batch_size == AUTO else 'given'}: {batch} ({per_epoch} optimiser steps "
            f"per epoch on {n_train:,} training images, {n * per_epoch:,} in all{why})"
        ),
    )


def parse_decay(value) -> float | str:
    """`auto` or a number ≥ 0 (from the CLI or the Python API)."""
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    try:
        decay = float(value)
    except (TypeError, ValueError):
        decay = -1.0
    if isinstance(value, bool) or not decay >= 0:
        raise InputError(f"--weight-decay {value}: give a number of at least 0, or auto")
    return decay


def resolve_decay(value, channels: int) -> tuple[float, str]:
    """(weight decay, one line saying how it was chosen) for the option as given and the input's channels."""
    value = parse_decay(value)
    if value != AUTO:
        return float(value), f"weight decay given: {value:g}"
    decay = DECAY_RGB if channels == 3 else DECAY_GREY
    return decay, f"weight decay auto: {decay:g} ({'RGB' if channels == 3 else 'grey'} input)"


def warmup_share(epochs: int) -> float:
    """The share of the run the one-cycle schedule spends warming up (its `pct_start`)."""
    return min(WARMUP_MAX_SHARE, WARMUP_EPOCHS / max(1, epochs))
