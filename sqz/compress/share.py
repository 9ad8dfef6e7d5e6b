"""Weight sharing (Deep Compression): per-layer k-means to 2^b values, fine-tuned, zeros kept zero."""

from __future__ import annotations

import torch
from torch import nn

from sqz.compress.prune import prunable
from sqz.errors import InputError


@torch.no_grad()
def kmeans_1d(values: torch.Tensor, k: int, iters: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """(sorted centroids, assignment) of 1-D k-means with linear initialisation over [min, max]."""
    k = max(1, min(k, values.numel()))
    centroids = torch.linspace(values.min().item(), values.max().item(), k)
    for _ in range(iters):
        assign = torch.bucketize(values, (centroids[1:] + centroids[:-1]) / 2)
        sums = torch.zeros(k).index_add_(0, assign, values)
        counts = torch.zeros(k).index_add_(0, assign, torch.ones_like(values))
        moved = torch.where(counts > 0, sums / counts.clamp(min=1), centroids).sort().values
        if torch.equal(moved, centroids):
            break
        centroids = moved
    return centroids, torch.bucketize(values, (centroids[1:] + centroids[:-1]) / 2)


class WeightSharer:
    """Per layer: nonzero weights share 2^bits centroids; after each step, centroids move to their mean."""

    def __init__(self, model: nn.Module, bits: int) -> None:
        if not 1 <= bits <= 8:
            raise InputError(f"--share-bits must be 1..8, got {bits}")
        self.weights, self.k = prunable(model), 2**bits
        self.assign, self.nonzero = [], []
        with torch.no_grad():
            for w in self.weights:
                nz = w != 0
                _, a = kmeans_1d(w[nz], self.k)
                self.assign.append(a)
                self.nonzero.append(nz)

    @torch.no_grad()
    def __call__(self, step: int, total: int) -> None:
        for w, a, nz in zip(self.weights, self.assign, self.nonzero):
            vals = w[nz]
            k = int(a.max().item()) + 1
            sums = torch.zeros(k).index_add_(0, a, vals)
            counts = torch.zeros(k).index_add_(0, a, torch.ones_like(vals))
            shared = sums / counts.clamp(min=1)
            w.zero_()
            w[nz] = shared[a]


def distinct_values(model: nn.Module) -> list[int]:
    """Distinct nonzero values per prunable layer."""
    return [int(torch.unique(w[w != 0]).numel()) for w in prunable(model)]
