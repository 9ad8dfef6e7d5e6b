"""A run keeps its best epoch on validation, not its last, and says which."""

import json

import pytest
import torch

from sqz.train import best, checkpoint
from sqz.train.loop import TrainConfig, train


def test_update_keeps_higher_accuracy_then_lower_loss():
    net = torch.nn.Linear(2, 2)
    b = best.Best()
    assert best.update(b, {"epoch": 1, "val_acc": 0.5, "val_loss": 1.0}, net)
    kept = b.state_dict["weight"].clone()
    with torch.no_grad():
        net.weight += 1
    assert not best.update(b, {"epoch": 2, "val_acc": 0.4, "val_loss": 0.1}, net)
    assert not best.update(b, {"epoch": 3, "val_acc": 0.5, "val_loss": 1.2}, net)
    assert torch.equal(b.state_dict["weight"], kept) and b.epoch == 1
    assert best.update(b, {"epoch": 4, "val_acc": 0.5, "val_loss": 0.9}, net) and b.epoch == 4
    assert not best.update(b, {"epoch": 5}, net)


@pytest.mark.slow
def test_the_saved_model_is_the_best_epoch_on_validation(tmp_path, small_dataset, monkeypatch):
    """Validation made to peak at epoch 2 of 4: model.pt holds epoch 2's weights, the record says so."""
    from sqz.train import loop

    real, calls = loop.evaluate, []

    def peaked(*args, **kw):
        loss, acc, bad = real(*args, **kw)
        if "confusion" in kw:  # the test set, with the kept weights
            return loss, acc, bad
        calls.append(acc)
        return loss, (0.1, 0.9, 0.2, 0.3)[len(calls) - 1], bad

    monkeypatch.setattr(loop, "evaluate", peaked)
    rec = train(
        TrainConfig(out=str(tmp_path), epochs=4, batch_size=32, lr=3e-3, limit=400, seed=1),
        dataset=small_dataset,
        progress=False,
    )
    assert rec["kept_epoch"] == 2 and rec["kept"] == "best validation accuracy" and rec["best_val_acc"] == 0.9
    assert json.loads((tmp_path / "metrics.json").read_text())["kept_epoch"] == 2
    model, _ = checkpoint.load(tmp_path / "model.pt")
    last = checkpoint.load_raw(tmp_path / "last.pt")
    kept = last["resume"]["best"]["state_dict"]
    assert last["resume"]["best"]["epoch"] == 2
    assert all(torch.equal(v, kept[k]) for k, v in model.state_dict().items())
    assert any(not torch.equal(v, last["state_dict"][k]) for k, v in model.state_dict().items())
    conf = rec["test_confusion"]
    assert sum(r["images"] for r in conf["per_class"]) == rec["test_images"]
    assert sum(r["correct"] for r in conf["per_class"]) == round(rec["test_acc"] * rec["test_images"])
    assert (tmp_path / "confusion.png").stat().st_size > 0
