"""torchrun / DistributedDataParallel plumbing: the process group, each rank's shard of an epoch, reductions."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from sqz.errors import InputError


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among `world` processes and the device it trains on."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise InputError(f"environment variable {name}={raw!r} is not an integer; launch with torchrun") from None


def start(device: str = "auto") -> Context:
    """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK; join the process group (nccl on CUDA, gloo on CPU)."""
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"--device {device}: use auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is visible to torch; use --device cpu")
    world, rank, local = _env_int("WORLD_SIZE", 1), _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise InputError(f"RANK={rank} WORLD_SIZE={world} is inconsistent; launch with torchrun")
    cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    dev = torch.device("cpu")
    if cuda:
        if local >= torch.cuda.device_count():
            raise InputError(
                f"LOCAL_RANK={local} but only {torch.cuda.device_count()} CUDA device(s); "
                "give torchrun --nproc_per_node at most the number of GPUs"
            )
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    owns = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
        owns = True
    return Context(rank, world, local, dev, owns)


def stop(ctx: Context) -> None:
    """Leave the process group if `start` joined it."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def shard(n: int, epoch: int, seed: int, rank: int, world: int) -> torch.Tensor:
    """This rank's indices for `epoch`, as torch's DistributedSampler(shuffle=True) draws them.

    One permutation seeded with seed + epoch, padded by wrapping to a multiple of `world`, every
    world-th index from `rank`: the shards are disjoint (up to the padding) and reshuffled each epoch.
    """
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
    total = -(-n // world) * world
    if total > n:
        order = torch.cat([order, order[: total - n]])
    return order[rank:total:world]


def all_sum(ctx: Context, values: list[float]) -> list[float]:
    """Elementwise sum of `values` over all ranks (unchanged in one process)."""
    if ctx.world == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def gather(ctx: Context, obj) -> list:
    """Every rank's `obj`, in rank order (a one-item list in one process)."""
    if ctx.world == 1:
        return [obj]
    out = [None] * ctx.world
    dist.all_gather_object(out, obj)
    return out


def barrier(ctx: Context) -> None:
    if ctx.world > 1:
        dist.barrier()


def to_device(x: torch.Tensor, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """A batch on `device` (asynchronously from pinned memory), channels-last where asked."""
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x
