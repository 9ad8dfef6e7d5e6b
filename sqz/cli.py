"""Command line: thin click wrappers over plain functions; user errors are one line and exit 2."""

from __future__ import annotations

import functools
import json
import signal
import sys
from pathlib import Path

import click

from sqz import __version__
from sqz.errors import SqzError


def _terminate(signum, frame):
    raise KeyboardInterrupt


def writable(path: Path, option: str, directory: bool = True) -> None:
    """Refuse, before any work, an output that is the wrong kind of thing or lies where nothing can be written."""
    import os

    from sqz.errors import InputError

    if directory and path.exists() and not path.is_dir():
        raise InputError(f"{option} {path} is a file; give a directory")
    if not directory and path.is_dir():
        raise InputError(f"{option} {path} is a directory; give a file name")
    near = path if directory and path.is_dir() else path.parent
    while not near.exists() and near != near.parent:
        near = near.parent
    if not near.is_dir() or not os.access(near, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: cannot write there ({near} is read-only or not a directory)")


def friendly(fn):
    """Turn SqzError into one stderr line and its exit code; Ctrl-C or SIGTERM into exit 130."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        signal.signal(signal.SIGTERM, _terminate)
        try:
            return fn(*args, **kwargs)
        except SqzError as exc:
            click.echo(f"sqz: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("sqz: interrupted; nothing half-written was left behind", err=True)
            sys.exit(130)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sqz")
def main() -> None:
    """sqz: train SqueezeNet, export it to ONNX and full-int8 TFLite, gate its size, run it on a board."""


@main.command()
@click.option("--data", default="fashion-mnist", show_default=True,
              help="fashion-mnist, a .npz (x, y), IDX images file, or an image folder (one sub-folder per class)")
@click.option("--arch", default="1.1", show_default=True, help="1.0, 1.1, 1.0-bypass or 1.1-bypass")
@click.option("--epochs", default=40, show_default=True, type=int)
@click.option("--batch-size", default=128, show_default=True, type=int)
@click.option("--lr", default=2e-3, show_default=True, type=float, help="one-cycle peak learning rate (AdamW)")
@click.option("--batch-norm/--no-batch-norm", default=None,
              help="BatchNorm while training, folded into the convolutions at export [default: on; off from "
                   "torchvision weights, as in the file from an sqz checkpoint]")
@click.option("--init", "init", default=None, type=click.Path(path_type=Path),
              help="start from weights: torchvision's squeezenet1_0/1_1 .pth (downloaded yourself) or an sqz "
                   "model.pt; switches to ImageNet mean/std and 3 channels for torchvision's")
@click.option("--freeze-features", is_flag=True, help="with --init: train only the classifier (linear probe)")
@click.option("--base-e", type=click.IntRange(1, 4096), default=None,
              help="expand filters of the first fire module [paper: 128]")
@click.option("--incr-e", type=click.IntRange(0, 4096), default=None,
              help="expand filters added every --freq fire modules [paper: 128]")
@click.option("--pct3x3", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="share of 3x3 expand filters [paper: 0.5]")
@click.option("--sr", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="squeeze ratio: squeeze filters / expand filters [paper: 0.125]")
@click.option("--freq", type=click.IntRange(1, 8), default=None,
              help="fire modules between increments of the expand filters [paper: 2]")
@click.option("--size", type=click.IntRange(24, 1024), default=None,
              help="image folders: input side in pixels [default: the first image's longest side, at most 224]")
@click.option("--channels", type=click.Choice(["1", "3"]), default=None,
              help="image folders: 1 (grey) or 3 (RGB) [default: as the first image]")
@click.option("--resize", type=click.Choice(["crop", "squash", "pad"]), default="crop", show_default=True,
              help="image folders: crop = shorter side to --size then centre crop; squash = stretch; "
                   "pad = letterbox on black")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--limit", default=0, type=int, help="use only this many training images (quick runs)")
@click.option("--threads", default=0, type=int, help="torch CPU threads (0: torch's default)")
@click.option("--out", default="runs/default", show_default=True, type=click.Path(path_type=Path))
@click.option("--resume", is_flag=True, help="continue from OUT/last.pt")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
              help="auto: CUDA when torch sees a GPU")
@click.option("--precision", default="auto", show_default=True,
              type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
              help="autocast on CUDA (auto: bf16, else fp16 with loss scaling); CPU is always fp32")
@click.option("--workers", default=-1, type=int, help="image-folder decode workers per process (-1: automatic)")
@click.option("--tensorboard", is_flag=True, help="also log scalars to OUT/tensorboard (needs tensorboard)")
@friendly
def train(data, arch, epochs, batch_size, lr, batch_norm, init, freeze_features, base_e, incr_e, pct3x3, sr, freq,
          size, channels, resize, seed, limit, threads, out, resume, device, precision, workers, tensorboard) -> None:
    """Train a SqueezeNet; writes OUT/last.pt and OUT/history.* each epoch, OUT/model.pt and OUT/metrics.json
    at the end. Under torchrun each process trains a shard (--batch-size is per process); rank 0 writes."""
    import os

    from sqz.train.loop import TrainConfig, train as run_training
    from sqz.train.model import metaparameters

    writable(out, "--out")
    cfg = TrainConfig(data=data, arch=arch, out=str(out), epochs=epochs, batch_size=batch_size, lr=lr,
                      batch_norm=batch_norm, seed=seed, limit=limit, threads=threads, device=device,
                      precision=precision, workers=workers, tensorboard=tensorboard,
                      init=str(init) if init else "", freeze_features=freeze_features, size=size or 0,
                      channels=int(channels or 0), resize=resize,
                      metaparameters=metaparameters(base_e=base_e, incr_e=incr_e, pct3x3=pct3x3, sr=sr, freq=freq))
    record = run_training(cfg, resume=resume)
    if os.environ.get("RANK", "0") == "0":
        click.echo(f"test accuracy {100 * record['test_acc']:.2f} % on {record['test_images']:,} images; "
                   f"checkpoint {out / 'model.pt'}")


def _export_options(fn):
    opts = [
        click.argument("checkpoint", required=False, type=click.Path(path_type=Path)),
        click.option("--int8/--no-int8", default=False, help="also write the full-integer int8 TFLite"),
        click.option("--out", default="exports/default", show_default=True, type=click.Path(path_type=Path)),
        click.option("--calib", default=500, show_default=True, type=int,
                     help="training images used to calibrate int8"),
        click.option("--budget", default=None, help="size budget for the verdict [default: the target's, else 0.5MB]"),
        click.option("--target", default=None, help="board profile (see `sqz targets`) giving the budget and metric"),
        click.option("--data", default=None, help="dataset for evaluation/calibration (default: the training one)"),
        click.option("--eval-limit", default=0, type=int, help="evaluate on only this many test images"),
        click.option("--keep-dead-taps", is_flag=True,
                     help="keep 3x3 taps that only ever see padding (default: replace them by their centre tap)"),
        click.option("--json", "as_json", is_flag=True, help="print report.json instead of the table"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _run_export(checkpoint, int8, out, calib, budget, target, data, eval_limit, keep_dead_taps, as_json) -> None:
    from sqz.export.pipeline import export
    from sqz.export.report import table
    from sqz.targets.profiles import get as get_profile

    writable(out, "--out")
    log = (lambda msg: click.echo(msg, err=True))
    profile = get_profile(target) if target else None
    budget = budget or (profile.budget if profile else "0.5MB")
    rep = export(checkpoint, out=out, int8=int8, calib=calib, budget=budget, data=data,
                 metric=profile.metric if profile else "file", target=profile.name if profile else None,
                 eval_limit=eval_limit, dead_taps=not keep_dead_taps, log=log)
    if as_json:
        click.echo(json.dumps(rep, indent=2))
    else:
        click.echo(table(rep))
        packed = [a["packed"]["file"] for a in rep["artifacts"].values() if "packed" in a]
        click.echo(f"\nwrote {out}/: " + ", ".join(list(rep["artifacts"]) + packed +
                                                  ["manifest.json", "report.json", "report.md"]))


@main.command("export")
@_export_options
@friendly
def export_cmd(**kw) -> None:
    """Export CHECKPOINT (default: the bundled Fashion-MNIST model) to ONNX and TFLite, with a report."""
    _run_export(**kw)


@click.command("sqz-export", context_settings={"help_option_names": ["-h", "--help"]})
@_export_options
@friendly
def export_main(**kw) -> None:
    """Export CHECKPOINT (default: the bundled Fashion-MNIST model) to ONNX and TFLite, with a report."""
    _run_export(**kw)


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="the compressed checkpoint (.pt)")
@click.option("--prune", "sparsity", default=0.0, show_default=True, type=click.FloatRange(0, 0.99),
              help="gradual magnitude pruning of the fire modules to this sparsity")
@click.option("--share-bits", default=0, show_default=True, type=click.IntRange(0, 8),
              help="per-layer weight sharing to 2^b values (0: off)")
@click.option("--epochs", default=4, show_default=True, type=click.IntRange(1, 1000), help="fine-tuning epochs")
@click.option("--data", default=None, help="fine-tuning data (default: the checkpoint's training data)")
@friendly
def compress(checkpoint, out, sparsity, share_bits, epochs, data) -> None:
    """Fold BatchNorm, drop dead taps, prune and/or share weights with fine-tuning; write a new checkpoint."""
    from sqz.quantize.compress import compress as run_compress

    writable(out, "--out", directory=False)
    r = run_compress(checkpoint, out, sparsity=sparsity, share_bits=share_bits, epochs=epochs, data=data)
    click.echo(f"{out}: sparsity {100 * r['sparsity']:.1f} %, test accuracy {100 * r['test_acc_before']:.2f} % → "
               f"{100 * r['test_acc']:.2f} %" + (f", ≤ {2 ** share_bits} values per layer" if share_bits else ""))


@main.command()
@click.argument("artifacts", nargs=-1, type=click.Path(path_type=Path))
@click.option("--budget", default=None, help="B, KB, MB (x1000) or KiB, MiB (x1024)  [default: the target's, else 0.5MB]")
@click.option("--metric", default=None, type=click.Choice(["file", "packed"]), help="file: bytes the interpreter maps; packed: bytes shipped (xz) [default: the target's, else file]")
@click.option("--target", default=None, help="board profile (see `sqz targets`) giving the budget and metric")
@click.option("--json", "as_json", is_flag=True, help="machine-readable verdict")
@friendly
def check(artifacts, budget, metric, target, as_json) -> None:
    """The CI gate: exit 0 when every artifact fits the budget, 1 when any is over, 2 on unusable input."""
    from sqz.targets.gate import as_json as verdict_json, check as run_check
    from sqz.targets.profiles import get as get_profile

    profile = get_profile(target) if target else None
    budget = budget or (profile.budget if profile else "0.5MB")
    metric = metric or (profile.metric if profile else "file")
    verdicts = run_check(list(artifacts), budget=budget, metric=metric)
    if as_json:
        click.echo(json.dumps(verdict_json(verdicts), indent=2))
    else:
        for v in verdicts:
            click.echo(v.line())
    sys.exit(0 if all(v.fits for v in verdicts) else 1)


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--top", "k", default=3, show_default=True, type=click.IntRange(1, 1000))
@click.option("--threads", default=None, type=int)
@click.option("--interpreter", default=None, type=click.Choice(["ai-edge-litert", "tflite-runtime", "tensorflow"]))
@click.option("--json", "as_json", is_flag=True)
@friendly
def run(model, images, k, threads, interpreter, as_json) -> None:
    """Classify IMAGES with MODEL (.tflite or .onnx from an export directory); prints top-k labels."""
    from sqz.runtime import load

    m = load(model, threads=threads, interpreter=interpreter)
    results = m.top_k([str(p) for p in images], k=k)
    if as_json:
        click.echo(json.dumps({"model": str(model), "interpreter": m.interpreter, "predictions": [
            {"image": str(p), "top": [{"label": lbl, "probability": prob} for lbl, prob in r]}
            for p, r in zip(images, results)]}, indent=2))
        return
    for p, r in zip(images, results):
        click.echo(f"{p}: " + ", ".join(f"{lbl} {100 * prob:.1f} %" for lbl, prob in r))
    click.echo(f"(interpreter: {m.interpreter})", err=True)


@main.command("bench")
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("images", nargs=-1, type=click.Path(path_type=Path))
@click.option("--threads", default=None, type=int, help="interpreter threads (default: the interpreter's own)")
@click.option("--runs", default=100, show_default=True, type=int, help="timed batch-1 inferences")
@click.option("--warmup", default=10, show_default=True, type=int, help="untimed inferences first")
@click.option("--interpreter", default=None, type=click.Choice(["ai-edge-litert", "tflite-runtime", "tensorflow"]))
@click.option("--json", "as_json", is_flag=True)
@friendly
def bench_cmd(model, images, threads, runs, warmup, interpreter, as_json) -> None:
    """Time MODEL (.tflite or .onnx from an export directory) at batch 1 on IMAGES (default: synthetic)."""
    from sqz.runtime.bench import bench, text

    result = bench(model, threads=threads, runs=runs, warmup=warmup, images=images, interpreter=interpreter)
    click.echo(json.dumps(result, indent=2) if as_json else text(result))


@main.command()
@click.option("--json", "as_json", is_flag=True)
@friendly
def targets(as_json) -> None:
    """List the board profiles: arch, interpreter, threads, size budget, published SqueezeNet latency."""
    from sqz.targets.profiles import latency_source, profiles, table

    if as_json:
        click.echo(json.dumps({"latency_source": latency_source(),
                               "targets": [p.to_dict() for p in profiles()]}, indent=2))
    else:
        click.echo(table(profiles()))


@main.command()
@click.argument("model", type=click.Path(path_type=Path), default="exports/default")
@click.option("--arch", type=click.Choice(["aarch64", "armv7l"]), default=None, help="emulated architecture")
@click.option("--target", default=None, help="board profile (see `sqz targets`): arch, qemu CPU, interpreter, threads")
@click.option("--images", multiple=True, type=click.Path(path_type=Path), help="images to compare on (default: Fashion-MNIST test)")
@click.option("--samples", default=32, show_default=True, type=click.IntRange(1, 10000), help="Fashion-MNIST test images")
@click.option("--interpreter", default=None, type=click.Choice(["ai-edge-litert", "tflite-runtime"]),
              help="default: the target's")
@click.option("--reference/--no-reference", default=True, show_default=True,
              help="also compare with TFLite's reference kernels (must be bit-identical)")
@click.option("--json", "as_json", is_flag=True)
@friendly
def verify(model, arch, target, images, samples, interpreter, reference, as_json) -> None:
    """Run MODEL under qemu with real ARM Python and wheels; compare with this machine (exit 1 on a mismatch)."""
    from sqz.targets.verify import verify as run_verify

    v = run_verify(model, arch, target, list(images) or None, samples, interpreter, reference,
                   log=lambda msg: click.echo(msg, err=True))
    click.echo(json.dumps(v.to_dict(), indent=2) if as_json else v.line())
    sys.exit(0 if v.ok else 1)


def _ssh_options(fn):
    opts = [
        click.option("--host", "hosts", multiple=True, help="user@board or user@board:port (repeat for many boards)"),
        click.option("--dest", type=click.Path(path_type=Path), help="a local directory instead (a mounted SD card)"),
        click.option("--port", type=int, default=None, help="SSH port for hosts that do not give one"),
        click.option("--identity", type=click.Path(path_type=Path), help="SSH private key (default: ssh's own)"),
        click.option("--known-hosts", type=click.Path(path_type=Path),
                     help="known_hosts file (default: ~/.ssh/known_hosts); host keys are always checked"),
        click.option("--remote-dir", default="sqz", show_default=True, help="directory on the board (relative: home)"),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _summary(results) -> None:
    for r in results:
        click.echo(r.line())
    sys.exit(0 if all(r.ok for r in results) else 1)


@main.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--target", default="rpi4", show_default=True, help="board profile (see `sqz targets`)")
@_ssh_options
@click.option("--python", default="python3", show_default=True, help="interpreter on the board for the smoke test")
@click.option("--images", multiple=True, type=click.Path(path_type=Path), help="smoke-test images (default: Fashion-MNIST)")
@friendly
def deploy(model, target, hosts, dest, port, identity, known_hosts, remote_dir, python, images) -> None:
    """Bundle MODEL, upload it over SSH, check it on the board, smoke-test it, switch `current` atomically."""
    from sqz.targets.deploy import SSH, deploy_model

    if dest:
        writable(dest, "--dest")
    ssh = SSH(port=port, identity=identity, known_hosts=known_hosts)
    _summary(deploy_model(model, target, list(hosts), dest, ssh, remote_dir, python, list(images) or None))


@main.command()
@_ssh_options
@friendly
def rollback(hosts, dest, port, identity, known_hosts, remote_dir) -> None:
    """Switch `current` back to the previous release on every host (or in --dest)."""
    from sqz.targets.deploy import SSH, rollback as run_rollback, rollback_local

    if dest:
        _summary([rollback_local(dest)])
    _summary(run_rollback(list(hosts), SSH(port=port, identity=identity, known_hosts=known_hosts), remote_dir))


if __name__ == "__main__":
    main()
