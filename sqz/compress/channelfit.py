"""Fitting a trained model to a size budget: structured channel pruning by measured sensitivity, fine-tuned
with knowledge distillation from the unpruned model, until the predicted full-int8 file fits.

`sqz.fit.size.predict` gives the exact file bytes of an architecture at the run's input size (dead taps
included), so it is the stopping criterion; each of `rounds` rounds prunes toward a geometric step of the
way to the budget, then distils for `epochs` epochs.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch

from sqz.compress import sensitivity
from sqz.compress.channels import prune_to
from sqz.compress.sparse import finetune_data
from sqz.errors import InputError
from sqz.fit.size import predict
from sqz.fit.widths import ROUNDS, counts, smallest
from sqz.train import carry, checkpoint
from sqz.train.distill import distillation
from sqz.train.evaluate import evaluate
from sqz.train.finetune import finetune
from sqz.train.model import count_parameters
from sqz.train.surgery import fold_batchnorm, remove_dead_taps

PROBE_IMAGES = 512
LR = 5e-4


def targets(start: int, budget: int, rounds: int) -> list[int]:
    """Byte targets of the rounds: geometric steps from `start` down to `budget`, the last exactly `budget`."""
    return [int(start * (budget / start) ** (r / rounds)) for r in range(1, rounds)] + [budget]


def fit(
    ckpt: Path,
    out: Path,
    budget: int,
    epochs: int = 1,
    rounds: int = ROUNDS,
    data: str | None = None,
    limit: int = 0,
    seed: int = 0,
    progress: bool = True,
    log=print,
) -> dict:
    """Write a pruned, distilled checkpoint to `out` whose full-int8 export fits `budget` bytes, the run's
    calibration sample and split record beside it (`sqz.train.carry`); its record."""
    trained, payload = checkpoint.load(ckpt)
    carried = carry.plan(ckpt, out)
    size = int(payload["preprocess"]["size"])
    if trained.cfg.bypass == "complex":
        raise InputError(
            f"{ckpt} is SqueezeNet {trained.cfg.name}: --fit prunes channels of plain and simple-bypass "
            "models only (the 1x1 skip convolutions are not pruned); use --weights int4 or sqz train "
            "--budget"
        )
    teacher, dead = remove_dead_taps(fold_batchnorm(trained), size)
    start = predict(teacher.cfg, size)
    floor = predict(smallest(teacher.cfg, rounds), size)["file_bytes"]
    if floor > budget:
        raise InputError(
            f"budget {budget:,} B is below the smallest network channel pruning reaches from "
            f"{ckpt} ({floor:,} B at {size}x{size}); give --fit of at least {floor:,} B, or more "
            "--rounds"
        )
    d = finetune_data(payload, Path(ckpt).parent, data, limit, seed)
    probe_x = (d.x_val if len(d.x_val) else d.x)[:PROBE_IMAGES]
    torch.manual_seed(seed)
    record = {
        "source": str(ckpt),
        "budget": budget,
        "input_size": size,
        "dead_tap_fires": [i + 2 for i in dead],
        "epochs": epochs,
        "rounds": rounds,
        "limit": limit,
        "parameters_before": count_parameters(teacher),
        "file_bytes_before": start["file_bytes"],
        "test_acc_before": evaluate(teacher, d.x_test, d.y_test)[1],
    }
    log(
        f"{ckpt}: {record['parameters_before']:,} parameters, int8 file {start['file_bytes']:,} B, "
        f"test accuracy {100 * record['test_acc_before']:.2f} %; fitting to {budget:,} B"
    )
    t0 = time.perf_counter()
    student = teacher
    if start["file_bytes"] > budget:
        student = copy.deepcopy(teacher)
        teacher_logits = sensitivity.logits(teacher, probe_x)
        criterion = distillation(teacher)
        record["rounds_log"] = []
        for r, target in enumerate(targets(start["file_bytes"], budget, rounds)):
            sens = sensitivity.measure(student, probe_x, teacher_logits, progress)
            cfg = sensitivity.allocate(
                student.cfg, sens, lambda c, limit=target: predict(c, size)["file_bytes"] <= limit
            )
            if cfg is None:
                raise InputError(
                    f"round {r + 1}: no channel allocation reaches {target:,} B; give a larger "
                    "--fit budget or more --rounds"
                )
            if r == 0:
                straight = sensitivity.allocate(student.cfg, sens, lambda c: predict(c, size)["file_bytes"] <= budget)
                record["test_acc_one_shot"] = (
                    None if straight is None else evaluate(prune_to(student, counts(straight)), d.x_test, d.y_test)[1]
                )
            student = prune_to(student, counts(cfg))
            pruned_acc = evaluate(student, d.x_test, d.y_test)[1]
            finetune(
                student,
                d.x,
                d.y,
                d.fill,
                epochs,
                lr=LR,
                seed=seed + r,
                progress=progress,
                desc=f"distil {r + 1}/{rounds}",
                criterion=criterion,
                flip=d.flip,
            )
            step = {
                "target_bytes": target,
                "file_bytes": predict(student.cfg, size)["file_bytes"],
                "parameters": count_parameters(student),
                "test_acc_pruned": pruned_acc,
                "test_acc_distilled": evaluate(student, d.x_test, d.y_test)[1],
            }
            record["rounds_log"].append(step)
            log(
                f"round {r + 1}/{rounds}: {step['parameters']:,} parameters, {step['file_bytes']:,} B; test accuracy "
                f"{100 * pruned_acc:.2f} % pruned → {100 * step['test_acc_distilled']:.2f} % distilled"
            )
    final = predict(student.cfg, size)
    record.update(
        parameters=count_parameters(student),
        file_bytes=final["file_bytes"],
        widths=[list(w) for w in student.cfg.widths],
        test_acc=evaluate(student, d.x_test, d.y_test)[1],
        seconds=round(time.perf_counter() - t0, 1),
    )
    full = {**payload.get("record", {}), "compression": {"fit": record}}
    checkpoint.save(out, student, d.pre, tuple(payload["classes"]), full)
    record["carried"] = carry.copy(carried)
    return record
