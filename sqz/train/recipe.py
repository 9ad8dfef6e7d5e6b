"""The fine-tuning recipe for a pretrained start (`--init`): the new classifier trains alone for the first
epochs (the features frozen), then the whole net, with the pretrained features at a tenth of the learning rate."""

from __future__ import annotations

from torch import nn

# Classifier-only epochs: a fifth of the run, at least 1 and at most HEAD_EPOCHS_MAX.
HEAD_SHARE, HEAD_EPOCHS_MAX = 0.2, 5
FEATURES_LR_SCALE = 0.1


def head_epochs(init: str, freeze_features: bool, epochs: int) -> int:
    """How many first epochs train only the classifier: none from scratch or with --freeze-features (always)."""
    if not init or freeze_features or epochs < 2:
        return 0
    return min(HEAD_EPOCHS_MAX, max(1, round(HEAD_SHARE * epochs)))


def param_groups(net: nn.Module, lr: float, init: str) -> tuple[list[dict], list[float]]:
    """Optimizer groups and their peak learning rates: the features at FEATURES_LR_SCALE × `lr` from a
    pretrained start, everything at `lr` otherwise."""
    if not init:
        return [{"params": list(net.parameters())}], [lr]
    features = [p for p in net.features.parameters()]
    ids = {id(p) for p in features}
    rest = [p for p in net.parameters() if id(p) not in ids]
    return [{"params": features}, {"params": rest}], [lr * FEATURES_LR_SCALE, lr]


def hold_features(net: nn.Module) -> None:
    """A classifier-only step: drop the features' gradients (AdamW then leaves them, weight decay included).
    Gradients rather than requires_grad, so that DistributedDataParallel sees the same parameters throughout."""
    for p in net.features.parameters():
        p.grad = None


def phase(epoch: int, heads: int) -> str:
    """`classifier` or `whole net` for 0-based `epoch`."""
    return "classifier" if epoch < heads else "whole net"
