"""The epoch a run keeps: the best on validation (highest accuracy, then lowest loss), not the last."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass
class Best:
    """The kept epoch (0: none yet), its validation figures and a CPU copy of its weights."""

    epoch: int = 0
    val_acc: float = float("-inf")
    val_loss: float = float("inf")
    state_dict: dict | None = None

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "val_acc": self.val_acc, "val_loss": self.val_loss, "state_dict": self.state_dict}

    @classmethod
    def from_dict(cls, d: dict | None) -> "Best":
        return cls(**d) if d else cls()


def update(best: Best, row: dict, net: nn.Module) -> bool:
    """Keep `net`'s weights when this epoch's validation beats the kept one; whether it did."""
    acc, loss = row.get("val_acc"), row.get("val_loss")
    if acc is None or acc != acc or (acc, -loss) <= (best.val_acc, -best.val_loss):
        return False
    best.epoch, best.val_acc, best.val_loss = row["epoch"], float(acc), float(loss)
    best.state_dict = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    return True


def restore(best: Best, net: nn.Module, record: dict, last_epoch: int) -> None:
    """Load the kept weights into `net` and say in `record` which epoch it holds and why."""
    if best.state_dict is None:
        record.update(kept_epoch=last_epoch, kept="last epoch (no validation images)")
        return
    net.load_state_dict(best.state_dict)
    record.update(
        kept_epoch=best.epoch, kept="best validation accuracy", best_val_acc=best.val_acc, best_val_loss=best.val_loss
    )
