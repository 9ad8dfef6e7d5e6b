"""`--init imagenet`: torchvision's published SqueezeNet 1.0 / 1.1 ImageNet weights, downloaded once into torch's
hub cache, checked against the sha256 prefix torchvision publishes in the file name, and reused from there.

The one download sqz makes; it happens only when asked for, and offline it says in one line what to fetch
and where to put it. `SQZ_WEIGHTS_URL` points it at a mirror holding the same file names.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from sqz.errors import InputError, ModelFileError

OFFICIAL = "https://download.pytorch.org/models/"
FILES = {"1.0": "squeezenet1_0-b66bff10.pth", "1.1": "squeezenet1_1-b8a52dc0.pth"}
CHUNK = 1 << 16
TIMEOUT_S = 60


def cache_dir() -> Path:
    """Where torch.hub keeps downloaded weights: $TORCH_HOME/hub/checkpoints (default ~/.cache/torch/...)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def published_prefix(name: str) -> str:
    """The sha256 prefix torchvision puts in a weights file's name (`squeezenet1_1-b8a52dc0.pth` → b8a52dc0)."""
    return name.rsplit("-", 1)[1].split(".")[0]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def imagenet(version: str, log=lambda msg: print(msg, file=sys.stderr)) -> Path:
    """The cached torchvision weights for SqueezeNet `version`, downloading and checking them the first time."""
    if version not in FILES:
        raise InputError(f"--init imagenet: torchvision publishes SqueezeNet 1.0 and 1.1, not {version!r}")
    name = FILES[version]
    path = cache_dir() / name
    if path.is_file() and sha256(path).startswith(published_prefix(name)):
        return path
    url = os.environ.get("SQZ_WEIGHTS_URL", OFFICIAL).rstrip("/") + "/" + name
    path.parent.mkdir(parents=True, exist_ok=True)
    log(f"--init imagenet: downloading {url} into {path.parent} (once) …")
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as r:
            expected = r.headers.get("Content-Length")
            size = 0
            for block in iter(lambda: r.read(CHUNK), b""):
                out.write(block)
                size += len(block)
        if expected is not None and size != int(expected):
            raise OSError(f"the connection ended after {size:,} of {int(expected):,} bytes")
        digest = sha256(Path(tmp))
        if not digest.startswith(published_prefix(name)):
            raise ModelFileError(
                f"--init imagenet: {url} gave a file whose sha256 {digest[:8]}… is not the "
                f"published {published_prefix(name)}; nothing was kept"
            )
        os.replace(tmp, path)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise InputError(
            f"--init imagenet: cannot download {url} ({reason}); fetch it yourself into {path}, or give --init FILE"
        ) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    log(f"--init imagenet: {name} checked (sha256 {published_prefix(name)}…) and cached")
    return path
