"""Compile a full-int8 .tflite into self-contained C99: sqz_model.c (weights as const arrays, the kernels, one
static arena planned at export, `sqz_invoke`) and sqz_model.h (sizes, quantisation, preprocessing, labels)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from sqz.export import arena as arena_mod
from sqz.export.cgraph import CModel, UnsupportedModel, read
from sqz.files import write_text
from sqz.runtime.manifest import Artifact, Manifest

PER_LINE = 24


@dataclass(frozen=True)
class CSources:
    """The two generated files and what they hold."""

    source: str
    header: str
    arena_bytes: int
    macs: int
    ops: int


def kernels() -> str:
    """The kernel source shipped in the package (sqz/export/c/sqz_kernels.c)."""
    return resources.files("sqz.export").joinpath("c/sqz_kernels.c").read_text()


def _array(ctype: str, name: str, values: np.ndarray, align: str = "") -> str:
    flat = [str(int(v)) for v in np.asarray(values).reshape(-1)]
    rows = [", ".join(flat[i : i + PER_LINE]) for i in range(0, len(flat), PER_LINE)]
    return f"static const {ctype} {name}[{len(flat)}]{align} = {{\n    " + ",\n    ".join(rows) + "\n};\n"


def _cstr(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _ptr(model: CModel, plan: arena_mod.Plan, t: int) -> str:
    """C expression of tensor `t`'s first byte (its own channel offset included)."""
    if t == model.input:
        return "input"
    p = plan.places[t]
    return f"(sqz_arena.b + {p.offset + p.channel})"


def _kp(op) -> int:
    """Values per stored filter: kh·kw·ic, rounded up to 4 when its rows are gathered."""
    _, kh, kw, ic = op.params["weight"].shape
    return -(-kh * kw * ic // 4) * 4 if (kw * ic) % 4 else kh * kw * ic


def _gathers(model: CModel, op) -> bool:
    """Whether a conv gathers taps (padding, or rows too short to read in place) and so needs scratch."""
    _, _, kw, ic = op.params["weight"].shape
    return (kw * ic) % 4 != 0 or op.params["pad"] != (0, 0)


def _requant_mode(p: dict, w: np.ndarray, lo: int, hi: int) -> int:
    """sqz_conv_t.rq: 1 or 2 where the DSP kernels' short requantisation is exact for every input (every shift < 0,
    so the rounding divide shifts by at least 1, and every accumulator within ±2^30, so doubling it cannot
    overflow; 1 when the output range is the whole int8 range), else 0 (the general form)."""
    flat = w.reshape(w.shape[0], -1).astype(np.int64)
    bound = np.abs(p["bias"].astype(np.int64)) + np.abs(flat).sum(1) * 255  # |x + in_off| <= 255
    shift = np.asarray(p["shift"])
    if shift.size == 0 or shift.max() >= 0 or bound.max() >= 1 << 30:
        return 0
    return 1 if (lo, hi) == (-128, 127) else 2


def _conv(model: CModel, plan: arena_mod.Plan, n: int) -> tuple[str, str]:
    """(constants, call) of conv op n."""
    op = model.ops[n]
    p = op.params
    x, y = model.tensors[op.inputs[0]], model.tensors[op.output]
    w = p["weight"]
    oc, kh, kw, ic = w.shape
    in_off = -x.zero
    bias_in = p["bias"].astype(np.int64) + in_off * w.reshape(oc, -1).astype(np.int64).sum(1)
    if np.abs(bias_in).max(initial=0) >= 1 << 31:
        raise UnsupportedModel(f"conv {n}: a folded bias overflows int32")
    ih, iw, _ = x.hwc
    oh, ow, _ = y.hwc
    lo, hi = p["act"]
    gather, kp = (kw * ic) % 4 != 0, _kp(op)
    rq = _requant_mode(p, w, lo, hi)
    padded = np.zeros((oc + oc % 2, kp), np.int8)
    padded[:oc, : kh * kw * ic] = w.reshape(oc, -1)
    pairs = padded.reshape(-1, 2, kp // 4, 4).transpose(0, 2, 1, 3)  # filter pairs, 4 values of each in turn
    bias_in = np.append(bias_in, [0] * (oc % 2))
    consts = (
        _array("int8_t", f"w{n}", pairs, " SQZ_ALIGN8")
        + _array("int32_t", f"bi{n}", bias_in)
        + _array("int32_t", f"m{n}", p["multiplier"])
        + _array("int8_t", f"s{n}", p["shift"])
        + f"static const sqz_conv_t conv{n} = {{{ih}, {iw}, {ic}, {oh}, {ow}, {oc}, {kh}, {kw}, "
        f"{p['stride'][0]}, {p['stride'][1]}, {p['pad'][0]}, {p['pad'][1]}, {in_off}, {y.zero}, {lo}, {hi}, "
        f"{plan.places[op.output].stride}, {kp}, {int(gather)}, {rq}, w{n}, bi{n}, m{n}, s{n}, "
        f"sqz_arena.b + {plan.size}, SQZ_WIDE}};\n"
    )
    if n in plan.pooled:
        return consts, "/* computed row by row inside the max-pool it feeds */"
    return consts, f"sqz_conv(&conv{n}, {_ptr(model, plan, op.inputs[0])}, {_ptr(model, plan, op.output)});"


def _call(model: CModel, plan: arena_mod.Plan, n: int) -> str:
    """The statement(s) running non-conv op n."""
    op = model.ops[n]
    p = op.params
    y = model.tensors[op.output]
    src = [_ptr(model, plan, t) for t in op.inputs]
    dst = _ptr(model, plan, op.output)
    if op.kind == "maxpool" and op.inputs[0] in {model.ops[k].output for k in plan.pooled}:
        conv = next(k for k in plan.pooled if model.ops[k].output == op.inputs[0])
        (oh, ow, _) = y.hwc
        return (
            f"sqz_conv_pool(&conv{conv}, {_ptr(model, plan, model.ops[conv].inputs[0])}, {src[0]}, {dst}, {oh}, "
            f"{ow}, {p['filter'][0]}, {p['filter'][1]}, {p['stride'][0]}, {p['stride'][1]}, {p['pad'][0]}, "
            f"{p['pad'][1]}, {p['act'][0]}, {p['act'][1]});"
        )
    if op.kind == "maxpool":
        x = model.tensors[op.inputs[0]]
        (ih, iw, c), (oh, ow, _) = x.hwc, y.hwc
        return (
            f"sqz_maxpool({src[0]}, {dst}, {ih}, {iw}, {c}, {oh}, {ow}, {p['filter'][0]}, {p['filter'][1]}, "
            f"{p['stride'][0]}, {p['stride'][1]}, {p['pad'][0]}, {p['pad'][1]}, {p['act'][0]}, {p['act'][1]});"
        )
    if op.kind == "add":
        a, b = (model.tensors[t] for t in op.inputs)
        (am, ash), (bm, bsh), (om, osh) = p["a"], p["b"], p["out"]
        return (
            f"sqz_add({src[0]}, {src[1]}, {dst}, {y.size}L, {-a.zero}, {-b.zero}, {am}, {ash}, {bm}, {bsh}, "
            f"{om}, {osh}, {y.zero}, {p['act'][0]}, {p['act'][1]});"
        )
    if op.kind == "mean":
        x = model.tensors[op.inputs[0]]
        h, w, c = x.hwc
        m, sh = p["mul"]
        return f"sqz_mean_hw({src[0]}, {dst}, {h * w}, {c}, {x.zero}, {m}, {sh}, {y.zero});"
    if op.kind == "pad":
        (ih, iw, c), (oh, ow, _) = model.tensors[op.inputs[0]].hwc, y.hwc
        return f"sqz_pad({src[0]}, {dst}, {ih}, {iw}, {c}, {oh}, {ow}, {p['top']}, {p['left']}, {p['value']});"
    if op.kind == "concat":
        if n in plan.fused:
            return "/* concatenation: its inputs were written in place */"
        pixels = y.size // y.shape[-1]
        calls, at = [], 0
        for t, s in zip(op.inputs, src):
            c = model.tensors[t].shape[-1]
            calls.append(f"sqz_concat_one({s}, {dst}, {pixels}L, {c}, {at}, {y.shape[-1]});")
            at += c
        return " ".join(calls)
    if op.kind == "reshape":
        if src[0] == dst:
            return "/* reshape: same bytes */"
        return f"memmove({dst}, {src[0]}, {y.size});"
    raise AssertionError(op.kind)


def _lut(pre: dict, io: dict) -> np.ndarray:
    """(channels, 256) int8: each uint8 pixel value as the model's input takes it, computed by sqz's runtime."""
    from sqz.runtime.preprocess import Preprocess
    from sqz.targets.micro.verify import quantised_inputs

    p = Preprocess.from_dict(pre)
    values = np.arange(256, dtype=np.uint8)
    img = np.broadcast_to(values[:, None, None, None], (256, p.content, p.content, p.channels)).copy()
    x = quantised_inputs(img, p, io)
    top = (p.size - p.content) // 2
    return x[:, top, top, :].T.copy()


def generate(content: bytes, labels: list[str], pre: dict, io: dict, sha256: str) -> CSources:
    """sqz_model.c and sqz_model.h for the full-int8 .tflite bytes `content`."""
    model = read(content)
    plan = arena_mod.plan(model)
    consts, body = [], []
    for n, op in enumerate(model.ops):
        if op.kind == "conv":
            c, call = _conv(model, plan, n)
            consts.append(c)
        else:
            call = _call(model, plan, n)
        body.append(f"    {call}  /* {n}: {op.kind} -> {'x'.join(map(str, model.tensors[op.output].shape))} */")
    scratch = max((2 * _kp(op) for op in model.ops if op.kind == "conv" and _gathers(model, op)), default=0)
    size = plan.size + scratch
    wide = 4 * max((_kp(op) for op in model.ops if op.kind == "conv"), default=1)
    out = model.tensors[model.output]
    if len(labels) != out.size:
        raise UnsupportedModel(f"the model has {out.size} outputs but {len(labels)} labels")
    lut = _lut(pre, io)
    ih, iw, ic = model.tensors[model.input].hwc
    top = (pre["size"] - pre["content"]) // 2
    source = "\n".join(
        [
            f"/* Generated by sqz from a full-int8 model (sha256 {sha256}). Do not edit.",
            f" * {len(model.ops)} ops, {model.macs():,} multiply-accumulates, arena {size:,} bytes. C99, no malloc. */",
            '#include "sqz_model.h"',
            "",
            kernels(),
            "/* Activations, planned at export; the last 2·kp bytes hold one conv's gathered taps. */",
            "static union { int32_t align; int8_t b[SQZ_ARENA_BYTES]; } sqz_arena;",
            "#if SQZ_DSP || defined(SQZ_REFERENCE_LOOPS)",
            "/* DSP cores: two output pixels' taps widened to int16 pairs once, then read by every filter. */",
            "static int32_t sqz_wide[SQZ_DSP_SCRATCH_BYTES / 4];",
            "#define SQZ_WIDE sqz_wide",
            "#else",
            "#define SQZ_WIDE 0",
            "#endif",
            "",
            *consts,
            _array("int8_t", "sqz_pixel_lut", lut),
            "const char *const sqz_labels[SQZ_NUM_CLASSES] = {" + ", ".join(_cstr(x) for x in labels) + "};",
            "const float sqz_mean[SQZ_INPUT_C] = {" + ", ".join(f"{v!r}f" for v in pre["mean"]) + "};",
            "const float sqz_std[SQZ_INPUT_C] = {" + ", ".join(f"{v!r}f" for v in pre["std"]) + "};",
            "",
            "int sqz_invoke(const int8_t *input, int8_t *output)",
            "{",
            "    if (input == 0 || output == 0) return -1;",
            *body,
            f"    memcpy(output, {_ptr(model, plan, model.output)}, SQZ_OUTPUT_SIZE);",
            "    return 0;",
            "}",
            "",
            "void sqz_quantize_pixels(const uint8_t *pixels, int8_t *input)",
            "{",
            "    int y, x, c;",
            "    for (y = 0; y < SQZ_INPUT_H; ++y)",
            "        for (x = 0; x < SQZ_INPUT_W; ++x)",
            "            for (c = 0; c < SQZ_INPUT_C; ++c) {",
            f"                int py = y - {top}, px = x - {top};",
            "                int inside = py >= 0 && px >= 0 && py < SQZ_IMAGE_SIZE && px < SQZ_IMAGE_SIZE;",
            "                uint8_t v = inside ? pixels[(py * SQZ_IMAGE_SIZE + px) * SQZ_INPUT_C + c] : 0;",
            "                input[(y * SQZ_INPUT_W + x) * SQZ_INPUT_C + c] = sqz_pixel_lut[c * 256 + v];",
            "            }",
            "}",
            "",
            "int sqz_argmax(const int8_t *output)",
            "{",
            "    int i, best = 0;",
            "    for (i = 1; i < SQZ_NUM_CLASSES; ++i)",
            "        if (output[i] > output[best]) best = i;",
            "    return best;",
            "}",
            "",
        ]
    )
    header = "\n".join(
        [
            f"/* Generated by sqz (model sha256 {sha256}). Do not edit. */",
            "#ifndef SQZ_MODEL_H",
            "#define SQZ_MODEL_H",
            "",
            "#include <stdint.h>",
            "",
            f"/* Input: int8 NHWC 1x{ih}x{iw}x{ic}. A {pre['content']}x{pre['content']} image centred in "
            f"{pre['size']}x{pre['size']} zeros;",
            " * pixel p (0..255) of channel c: q = clamp(round(((p / 255 - sqz_mean[c]) / sqz_std[c])"
            " / SQZ_INPUT_SCALE)",
            " * + SQZ_INPUT_ZERO_POINT, -128, 127), which sqz_quantize_pixels does by table. */",
            f"#define SQZ_INPUT_H {ih}",
            f"#define SQZ_INPUT_W {iw}",
            f"#define SQZ_INPUT_C {ic}",
            f"#define SQZ_INPUT_SIZE {ih * iw * ic}",
            f"#define SQZ_IMAGE_SIZE {pre['content']}",
            f"#define SQZ_INPUT_SCALE {model.tensors[model.input].scale!r}f",
            f"#define SQZ_INPUT_ZERO_POINT {model.tensors[model.input].zero}",
            "/* Output: int8 scores; score = (q - SQZ_OUTPUT_ZERO_POINT) * SQZ_OUTPUT_SCALE. */",
            f"#define SQZ_NUM_CLASSES {len(labels)}",
            f"#define SQZ_OUTPUT_SIZE {out.size}",
            f"#define SQZ_OUTPUT_SCALE {out.scale!r}f",
            f"#define SQZ_OUTPUT_ZERO_POINT {out.zero}",
            "/* Activation memory: one static array inside sqz_model.c, planned at export. */",
            f"#define SQZ_ARENA_BYTES {size}",
            "/* Cores with the DSP extension (Cortex-M4/M7/M33/M55) also use this much static scratch. */",
            f"#define SQZ_DSP_SCRATCH_BYTES {wide}",
            f"#define SQZ_MACS {model.macs()}L",
            "",
            "#ifdef __cplusplus",
            'extern "C" {',
            "#endif",
            "",
            "/* Run the model: input SQZ_INPUT_SIZE int8 values, output SQZ_OUTPUT_SIZE; 0 on success."
            " Not reentrant. */",
            "int sqz_invoke(const int8_t *input, int8_t *output);",
            "/* uint8 pixels (SQZ_IMAGE_SIZE x SQZ_IMAGE_SIZE x SQZ_INPUT_C, row-major, already resized) -> input. */",
            "void sqz_quantize_pixels(const uint8_t *pixels, int8_t *input);",
            "/* Index of the highest score (the first on ties). */",
            "int sqz_argmax(const int8_t *output);",
            "extern const char *const sqz_labels[SQZ_NUM_CLASSES];",
            "extern const float sqz_mean[SQZ_INPUT_C];",
            "extern const float sqz_std[SQZ_INPUT_C];",
            "",
            "#ifdef __cplusplus",
            "}",
            "#endif",
            "",
            "#endif /* SQZ_MODEL_H */",
            "",
        ]
    )
    return CSources(source, header, size, model.macs(), len(model.ops))


def write(out: Path, sources: CSources) -> list[str]:
    """Write sqz_model.c and sqz_model.h into `out` (each atomically); their names."""
    write_text(Path(out) / "sqz_model.c", sources.source)
    write_text(Path(out) / "sqz_model.h", sources.header)
    return ["sqz_model.c", "sqz_model.h"]


def write_for(model: Path, manifest: Manifest, entry: Artifact, out: Path) -> list[str]:
    """Generate sqz_model.c/.h for the int8 `model` of an export (its manifest and manifest entry) into `out`."""
    return write(
        out,
        generate(
            Path(model).read_bytes(), list(manifest.labels), manifest.preprocess.to_dict(), entry.io, entry.sha256
        ),
    )
