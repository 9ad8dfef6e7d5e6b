"""When an export does not fit: the routes that would, each with its predicted or measured bytes.

Routes that exist here: retraining with budget-chosen metaparameters (`sqz train --budget`), pruning whole
channels of the trained model (`sqz compress --fit`), INT4 conv weights (`--weights int4`), a smaller input
size at which dead taps shrink the same architecture, and gating the xz-packed bytes (`--metric packed`).
"""

from __future__ import annotations

from pathlib import Path

from sqz.errors import InputError, ModelFileError
from sqz.fit.plan import choose, describe
from sqz.fit.size import predict
from sqz.fit.widths import smallest
from sqz.quantize import graph as graph_mod
from sqz.runtime import manifest as manifests
from sqz.train.arch import ArchConfig


def routes(cfg: ArchConfig, size: int, limit: int, packed_bytes: int | None = None) -> list[dict]:
    """Each route that fits `limit` for `cfg` exported at `size`²: {"route", "bytes", "how"}."""
    found = []
    chosen = choose(cfg.name, size, cfg.in_channels, cfg.num_classes, limit)
    if chosen["metaparameters"]:
        found.append(
            {
                "route": "budget-trained metaparameters",
                "bytes": chosen["file_bytes"],
                "how": f"sqz train --arch {cfg.name} --budget {limit}B (picks "
                f"{describe(chosen['metaparameters'], chosen)}, "
                f"{chosen['parameters']:,} parameters)",
            }
        )
    if cfg.bypass != "complex" and predict(smallest(cfg), size)["file_bytes"] <= limit:
        found.append(
            {
                "route": "channels pruned to fit",
                "bytes": limit,
                "how": f"sqz compress CHECKPOINT --fit {limit}B (sensitivity-chosen channels, distilled; "
                "at most the budget)",
            }
        )
    int4 = predict(cfg, size, weights="int4")["file_bytes"]
    if int4 <= limit:
        found.append(
            {
                "route": "INT4 conv weights",
                "bytes": int4,
                "how": "sqz-export --int8 --weights int4 (4-bit QAT; XNNPACK runs INT4 convs ~3-5x slower)",
            }
        )
    seen = {tuple(graph_mod.dead_fires(cfg, size))}
    for smaller in range(size - 1, 15, -1):
        try:
            dead = tuple(graph_mod.dead_fires(cfg, smaller))
        except InputError:
            break
        if dead in seen:
            continue
        seen.add(dead)
        p = predict(cfg, smaller)
        if p["file_bytes"] <= limit:
            found.append(
                {
                    "route": f"input {smaller}x{smaller} (dead taps in fires "
                    f"{', '.join(map(str, p['dead_tap_fires']))})",
                    "bytes": p["file_bytes"],
                    "how": f"retrain the same architecture on {smaller}x{smaller} images",
                }
            )
            break
    if packed_bytes is not None and packed_bytes <= limit:
        found.append(
            {
                "route": "packed metric",
                "bytes": packed_bytes,
                "how": "gate the xz-packed file with --metric packed (where the board unpacks it at install)",
            }
        )
    return found


def lines(found: list[dict], limit: int) -> list[str]:
    if not found:
        return [f"no route here fits {limit:,} B: give a larger budget"]
    return [f"would fit {limit:,} B: {r['route']} — {r['bytes']:,} B ({r['how']})" for r in found]


def describe_file(path: Path) -> tuple[ArchConfig, int] | None:
    """(architecture, input size) of a .tflite: from the manifest beside it when that lists the file, else
    read from the file (input shape, classes, first kernel: 3x3 is SqueezeNet 1.1, 7x7 is 1.0)."""
    try:
        m = manifests.read(path.parent)
        if path.name in m.artifacts and m.arch is not None:
            return ArchConfig.from_dict(m.arch), m.preprocess.size
    except (ModelFileError, InputError, ValueError, KeyError, TypeError):
        pass
    try:
        from sqz.quantize.flatbuffer import schema

        s = schema()
        model = s.Model.GetRootAsModel(path.read_bytes(), 0)
        sg = model.Subgraphs(0)
        shape_in = sg.Tensors(sg.Inputs(0)).ShapeAsNumpy()
        classes = int(sg.Tensors(sg.Outputs(0)).ShapeAsNumpy()[-1])
        kernel = int(sg.Tensors(sg.Operators(0).Inputs(1)).ShapeAsNumpy()[1])
        codes = [model.OperatorCodes(sg.Operators(i).OpcodeIndex()).BuiltinCode() for i in range(sg.OperatorsLength())]
    except Exception:
        return None
    version = {3: "1.1", 7: "1.0"}.get(kernel)
    if version is None or len(shape_in) != 4:
        return None
    # ADD (0) marks a bypass; CONV_2D (3) beyond conv1, 8 fires of 3 and the classifier, the complex one's skips
    bypass = "" if 0 not in codes else "complex" if codes.count(3) > 26 else "simple"
    return ArchConfig(version=version, num_classes=classes, in_channels=int(shape_in[3]), bypass=bypass), int(
        shape_in[1]
    )


def hint(path: Path, limit: int, metric: str = "file") -> list[str] | None:
    """The routes for a .tflite that is over `limit`, as lines for `sqz check`; None when its architecture
    cannot be told (not a SqueezeNet sqz wrote)."""
    from sqz.runtime import packed

    found = describe_file(Path(path))
    if found is None:
        return None
    cfg, size = found
    shipped = None
    if metric == "file":
        shipped = packed.packed_size(Path(path).read_bytes()) if not packed.is_packed(Path(path)) else None
    return [f"  {ln}" for ln in lines(routes(cfg, size, limit, shipped), limit)]
