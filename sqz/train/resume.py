"""Resuming a run: which options may change, the restored weights, optimizer, RNG and epoch, and the
one-cycle schedule re-planned for a new number of epochs."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from sqz.errors import InputError
from sqz.train import checkpoint, distributed

MAY_CHANGE = ("epochs", "out", "device", "precision", "threads", "workers", "tensorboard")
FLAGS = {
    "data": "--data",
    "arch": "--arch",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "weight_decay": "--weight-decay",
    "seed": "--seed",
    "limit": "--limit",
    "batch_norm": "--batch-norm",
    "budget": "--budget",
    "stem_stride": "--stem-stride",
    "pools": "--pools",
}


def _option(key: str, value) -> str:
    return f"{FLAGS[key]} {value}" if key in FLAGS else f"{key}={value!r}"


def load(out: Path, config: dict, world: int) -> dict:
    """The payload of `out`/last.pt, refused (one clear line) when this run cannot continue it as configured.

    Only the options in MAY_CHANGE may differ from the run's record; `epochs` may grow, never shrink.
    """
    last = Path(out) / "last.pt"
    if not last.exists():
        raise InputError(f"--resume: no {last} to resume from; start without --resume")
    payload = checkpoint.load_raw(last)
    state = payload.get("resume")
    if not state:
        raise InputError(f"{last} holds no resume state")
    if int(state.get("world_size", 1)) != world:
        raise InputError(
            f"{last} was written by {state.get('world_size', 1)} process(es) and this run has "
            f"{world}; resume with the same torchrun --nnodes x --nproc_per_node"
        )
    saved = payload.get("record", {}).get("config", {})
    differ = [k for k in config if k in saved and k not in MAY_CHANGE and saved[k] != config[k]]
    if differ:
        was = " ".join(_option(k, saved[k]) for k in differ)
        now = " ".join(_option(k, config[k]) for k in differ)
        raise InputError(
            f"--resume: {last} was trained with {was} and this run asks for {now}; resume with the "
            f"run's options (only --epochs, --device, --precision, --threads, --workers and "
            f"--tensorboard may change) or start a new run with another --out"
        )
    if isinstance(config["epochs"], int):
        check_epochs(out, payload, config["epochs"])
    return payload


def check_epochs(out: Path, payload: dict, epochs: int) -> None:
    """Refuse to resume into fewer epochs than the run has done (`epochs` as resolved, `auto` included)."""
    done = int(payload["resume"]["epoch"])
    if epochs < done:
        raise InputError(
            f"--resume: {Path(out) / 'last.pt'} has already trained {done} epoch(s) and this run "
            f"asks for {epochs}; give --epochs {done} or more"
        )


def rng_state(gen: torch.Generator, ctx: distributed.Context) -> dict:
    """The CPU, generator and (on CUDA) device RNG states, for the resume record."""
    state = {"torch": torch.get_rng_state(), "gen": gen.get_state()}
    if ctx.device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(ctx.device)
    return state


def _set_rng_state(state: dict, gen: torch.Generator, ctx: distributed.Context) -> None:
    torch.set_rng_state(state["torch"])
    gen.set_state(state["gen"])
    if "cuda" in state and ctx.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], ctx.device)


def restore(
    payload: dict,
    net: nn.Module,
    opt: torch.optim.Optimizer,
    sched,
    scaler,
    gen: torch.Generator,
    ctx: distributed.Context,
) -> tuple[int, list[dict], set[str]]:
    """Load weights, optimizer, scaler and RNG into the live objects; (epochs done, history, skipped images).

    The schedule continues where it stopped: as saved when the run keeps its length, otherwise the one-cycle
    planned for the new total number of steps, placed at the step the run had reached.
    """
    state = payload["resume"]
    net.load_state_dict(payload["state_dict"])
    opt.load_state_dict(state["optimizer"])
    saved = state["scheduler"]
    if saved.get("total_steps") == sched.total_steps:
        sched.load_state_dict(saved)
    else:
        sched.last_epoch = int(saved["last_epoch"]) - 1
        with warnings.catch_warnings():  # the optimizer did step, in the run being resumed
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step", UserWarning)
            sched.step()
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    _set_rng_state(state["rng_ranks"][ctx.rank] if ctx.world > 1 else state["rng"], gen, ctx)
    return int(state["epoch"]), list(payload["record"]["history"]), set(state.get("skipped", []))
