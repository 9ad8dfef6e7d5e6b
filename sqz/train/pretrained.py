"""A pretrained start (`sqz train --init FILE`): torchvision's SqueezeNet 1.0 / 1.1 state dict or an sqz
checkpoint, every tensor mapped by name and shape; the classifier is new unless the classes match."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from sqz.errors import InputError, ModelFileError
from sqz.runtime.preprocess import Preprocess
from sqz.train.arch import CONV1, METAPARAMETERS, ArchConfig
from sqz.train.checkpoint import FORMAT, LOAD_ERRORS
from sqz.train.data import Dataset, with_channels
from sqz.train.model import Fire, SqueezeNet, build

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_CLASSES = 1000
# Where torchvision's nn.Sequential holds the eight fire modules (its ReLUs and pools take indices too).
TORCHVISION_FIRES = {"1.0": (3, 4, 5, 7, 8, 9, 10, 12), "1.1": (3, 4, 6, 7, 9, 10, 11, 12)}
_PARTS = ("squeeze", "expand1x1", "expand3x3")
SHAPE_FIELDS = (
    "widths",
    "stem_stride",
    "pools",
)  # ArchConfig fields beyond the metaparameters that an sqz --init brings along


@dataclass(frozen=True)
class Init:
    """Weights to start from: `kind` is "torchvision" or "sqz"; `preprocess`/`classes` only for sqz."""

    path: str
    kind: str
    version: str
    state: dict
    batch_norm: bool = False
    preprocess: Preprocess | None = None
    classes: tuple[str, ...] = ()
    arch: str = ""
    shape: tuple = ()


def torchvision_names(version: str) -> list[str]:
    """Every tensor name of torchvision's `squeezenet1_0` / `squeezenet1_1` state dict."""
    layers = ["features.0"] + [f"features.{i}.{part}" for i in TORCHVISION_FIRES[version] for part in _PARTS]
    return [f"{layer}.{p}" for layer in layers + ["classifier.1"] for p in ("weight", "bias")]


def load(path: str | Path | None) -> Init | None:
    """The weights named by `--init` (None for none), read once per file version."""
    if not path:
        return None
    path = Path(path)
    stat = path.stat() if path.is_file() else None
    return _read_cached(str(path), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0)


@functools.lru_cache(maxsize=1)
def _read_cached(path: str, mtime_ns: int, size: int) -> Init:
    return read(Path(path))


def read(path: Path) -> Init:
    """Load and recognise `path`; anything but a torchvision SqueezeNet or an sqz checkpoint is refused."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"--init {path}: no such file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except LOAD_ERRORS as exc:
        raise ModelFileError(
            f"--init {path}: not a readable torch file ({exc.__class__.__name__}); give "
            "torchvision's squeezenet1_0/1_1 .pth or a model.pt written by `sqz train`"
        ) from None
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        return _from_checkpoint(path, payload)
    if isinstance(payload, dict) and payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        return _from_torchvision(path, payload)
    raise ModelFileError(
        f"--init {path}: neither a torchvision SqueezeNet state dict nor an sqz checkpoint; "
        "give torchvision's squeezenet1_0/1_1 .pth or a model.pt written by `sqz train`"
    )


def _from_torchvision(path: Path, state: dict) -> Init:
    keys = set(state)
    best = max(TORCHVISION_FIRES, key=lambda v: len(keys & set(torchvision_names(v))))
    names = torchvision_names(best)
    if not keys & set(names) - {"features.0.weight", "features.0.bias", "classifier.1.weight", "classifier.1.bias"}:
        raise ModelFileError(
            f"--init {path}: a state dict, but not torchvision's SqueezeNet (no "
            f"'features.N.squeeze.weight' tensors; found e.g. {sorted(keys)[:3]})"
        )
    missing, extra = [k for k in names if k not in keys], sorted(keys - set(names))
    if missing or extra:
        raise ModelFileError(
            f"--init {path}: not a complete torchvision SqueezeNet {best} state dict "
            f"(missing {missing[:3]}, unexpected {extra[:3]}); give the file as "
            "torchvision saves it"
        )
    conv1 = tuple(state["features.0.weight"].shape)
    width, kernel = CONV1[best]
    if conv1[0] != width or conv1[2:] != (kernel, kernel):
        raise ModelFileError(f"--init {path}: conv1 of shape {conv1} is not SqueezeNet {best}'s")
    return Init(str(path), "torchvision", best, {k: state[k] for k in names})


def _from_checkpoint(path: Path, payload: dict) -> Init:
    for key in ("arch", "state_dict", "preprocess", "classes"):
        if key not in payload:
            raise ModelFileError(f"--init {path}: checkpoint lacks '{key}'")
    try:
        arch = ArchConfig.from_dict(payload["arch"])
        pre = Preprocess.from_dict(payload["preprocess"])
    except (TypeError, ValueError, KeyError, InputError) as exc:
        raise ModelFileError(f"--init {path}: checkpoint has an unreadable arch or preprocess ({exc})") from None
    shape = ", ".join(f"{k}={getattr(arch, k)}" for k in METAPARAMETERS)
    own = tuple((k, getattr(arch, k)) for k in (*METAPARAMETERS, *SHAPE_FIELDS) if hasattr(arch, k))
    return Init(
        str(path),
        "sqz",
        arch.version,
        dict(payload["state_dict"]),
        arch.batch_norm,
        pre,
        tuple(payload["classes"]),
        f"{arch.name} with {shape}, batch_norm={arch.batch_norm}",
        own,
    )


def shape_of(init_path: str) -> dict:
    """The metaparameters and explicit widths of an sqz checkpoint given as --init ({} otherwise): a run
    started from it without its own metaparameters keeps its architecture (e.g. a pruned model at a new size)."""
    init = load(init_path)
    return dict(init.shape) if init is not None and init.kind == "sqz" else {}


def resolve_batch_norm(requested: bool | None, init_path: str) -> bool:
    """BatchNorm as asked; by default on, off from a torchvision start, as in the file from an sqz one."""
    if requested is not None:
        return requested
    init = load(init_path)
    return True if init is None else init.batch_norm


def input_preprocess(pre: Preprocess, init: Init) -> Preprocess:
    """The data's size with the channels and mean/std the pretrained weights saw (ImageNet for torchvision)."""
    if init.kind == "torchvision":
        return dataclasses.replace(pre, channels=3, mean=IMAGENET_MEAN, std=IMAGENET_STD)
    return dataclasses.replace(
        pre, channels=init.preprocess.channels, mean=init.preprocess.mean, std=init.preprocess.std
    )


def adapt(data, init_path: str):
    """`data` (a Dataset or a Folder, both with `.preprocess`) switched to `init`'s input channels and
    mean/std; in-memory pixels are converted (grey repeated to RGB, RGB to grey by PIL's weights)."""
    init = load(init_path)
    if init is None:
        return data
    pre = input_preprocess(data.preprocess, init)
    if isinstance(data, Dataset):
        data = with_channels(data, pre.channels)
    return dataclasses.replace(data, preprocess=pre)


def sqz_names(model: SqueezeNet) -> dict[str, str]:
    """torchvision tensor name → sqz tensor name for `model` (whose convolutions sit at `.0` of a block)."""
    fires = [i for i, m in enumerate(model.features) if isinstance(m, Fire)]
    tv_fires = TORCHVISION_FIRES[model.cfg.version]
    pairs = {"features.0": "features.0.0", "classifier.1": "classifier.1"}
    for tv, sq in zip(tv_fires, fires):
        pairs.update({f"features.{tv}.{part}": f"features.{sq}.{part}.0" for part in _PARTS})
    return {f"{a}.{p}": f"{b}.{p}" for a, b in pairs.items() for p in ("weight", "bias")}


def start(
    arch: ArchConfig,
    init_path: str,
    classes: tuple[str, ...],
    freeze_features: bool = False,
    log: Callable[[str], None] | None = None,
) -> SqueezeNet:
    """A fresh model for `arch` with `init`'s weights copied in (the classifier only where the classes match)."""
    model = build(arch)
    init = load(init_path)
    if freeze_features and init is None:
        raise InputError("--freeze-features keeps pretrained features; give --init FILE too")
    if init is not None:
        if init.version != arch.version:
            raise ModelFileError(
                f"--init {init.path} holds SqueezeNet {init.version}, not {arch.version}; "
                f"train with --arch {init.version}"
            )
        state = _state_for(model, init)
        classifier = _keeps_classifier(init, arch, classes)
        target = model.state_dict()
        for name, tensor in state.items():
            if name.startswith("classifier.") and not classifier:
                continue
            if name not in target:
                raise ModelFileError(
                    f"--init {init.path}: tensor {name} has no place in this model "
                    f"(batch norm or metaparameters differ); train with the file's "
                    f"architecture ({init.arch or 'published SqueezeNet ' + init.version})"
                )
            if tuple(tensor.shape) != tuple(target[name].shape):
                raise ModelFileError(
                    f"--init {init.path}: {name} is {tuple(tensor.shape)} in the file but "
                    f"{tuple(target[name].shape)} in this model; train with the file's "
                    f"architecture ({init.arch or 'published SqueezeNet ' + init.version})"
                )
            target[name] = tensor
        model.load_state_dict(target)
        if log:
            log(
                f"init: {init.kind} SqueezeNet {init.version} from {init.path}; "
                + ("classifier kept" if classifier else f"classifier new for {arch.num_classes} classes")
            )
    if freeze_features:
        for p in model.features.parameters():
            p.requires_grad_(False)
    return model


def _state_for(model: SqueezeNet, init: Init) -> dict:
    if init.kind == "sqz":
        return init.state
    names = sqz_names(model)
    state = {names[k]: v for k, v in init.state.items()}
    if model.cfg.in_channels != 3:
        raise ModelFileError(
            f"--init {init.path}: torchvision's weights take 3 input channels, this model {model.cfg.in_channels}"
        )
    return state


def _keeps_classifier(init: Init, arch: ArchConfig, classes: tuple[str, ...]) -> bool:
    if init.kind == "torchvision":
        return arch.num_classes == IMAGENET_CLASSES
    return tuple(classes) == init.classes
