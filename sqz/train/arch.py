"""The SqueezeNet architecture as a record (no torch): versions, metaparameters, fire widths, pools and skips."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sqz.errors import InputError

VERSIONS = ("1.0", "1.1")
METAPARAMETERS = ("base_e", "incr_e", "pct3x3", "sr", "freq")
CONV1 = {"1.0": (96, 7), "1.1": (64, 3)}
BYPASSES = ("", "simple", "complex")
PUBLISHED_POOLS = {"1.0": (0, 3, 7), "1.1": (0, 2, 4)}
POOL_POSITIONS = range(9)
_SIMPLE_BYPASS_AT = (1, 3, 5, 7)


@dataclass(frozen=True)
class ArchConfig:
    """Everything needed to rebuild a SqueezeNet; defaults are the published architectures.

    `bypass`: "" none, "simple" (identity skips where channels match, on fires 3, 5, 7, 9) or "complex" (every
    fire: identity where channels match, else a 1x1 conv); `True`/`False` read as "simple"/"". `pools`: where the
    3x3/2 max-pools sit, 0 after conv1 and i after the i-th fire; empty is the version's published placement.
    """

    version: str = "1.1"
    num_classes: int = 1000
    in_channels: int = 3
    base_e: int = 128
    incr_e: int = 128
    pct3x3: float = 0.5
    sr: float = 0.125
    freq: int = 2
    bypass: str = ""
    batch_norm: bool = False
    dropout: float = 0.5
    point_fires: tuple[int, ...] = field(default_factory=tuple)
    # explicit (squeeze, expand1x1, expand3x3) per fire, e.g. after channel pruning; empty: the formula
    widths: tuple[tuple[int, int, int], ...] = field(default_factory=tuple)
    stem_stride: int = 2
    pools: tuple[int, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        bypass = {True: "simple", False: "", None: ""}.get(self.bypass, self.bypass)
        if bypass not in BYPASSES:
            raise InputError(f"unknown bypass {self.bypass!r}; use one of {BYPASSES}")
        if self.stem_stride not in (1, 2):
            raise InputError(f"stem stride {self.stem_stride}: give 1 or 2")
        pools = tuple(sorted(int(p) for p in self.pools))
        if len(set(pools)) != len(pools) or any(p not in POOL_POSITIONS for p in pools):
            raise InputError(
                f"pools {list(self.pools)}: give distinct positions 0 to 8 (0 after conv1, i after "
                "the i-th fire module)"
            )
        if pools == PUBLISHED_POOLS.get(self.version):
            pools = ()
        object.__setattr__(self, "bypass", bypass)
        object.__setattr__(self, "pools", pools)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["point_fires"], d["pools"] = list(self.point_fires), list(self.pools)
        d["widths"] = [list(w) for w in self.widths]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ArchConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["point_fires"] = tuple(known.get("point_fires", ()))
        known["widths"] = tuple(tuple(int(v) for v in w) for w in known.get("widths", ()))
        known["pools"] = tuple(known.get("pools") or ())
        return cls(**known)

    @classmethod
    def named(cls, arch: str, **kw) -> "ArchConfig":
        """`1.0`, `1.1`, or either with `-bypass` (simple) or `-complex` (the paper's complex bypass)."""
        version, _, extra = arch.partition("-")
        if version not in VERSIONS or extra not in ("", "bypass", "complex"):
            raise InputError(
                f"unknown arch {arch!r}; use 1.0 or 1.1, optionally with -bypass or -complex "
                "(e.g. 1.1-bypass, 1.0-complex)"
            )
        return cls(version=version, bypass={"": "", "bypass": "simple", "complex": "complex"}[extra], **kw)

    @property
    def name(self) -> str:
        return self.version + {"": "", "simple": "-bypass", "complex": "-complex"}[self.bypass]

    @property
    def pool_positions(self) -> tuple[int, ...]:
        """Where the max-pools sit: 0 after conv1, i after the i-th fire module."""
        return self.pools or PUBLISHED_POOLS[self.version]


def parse_pools(text: str) -> tuple[int, ...]:
    """`0,2,4` → (0, 2, 4): max-pool positions, 0 after conv1 and i after the i-th fire module."""
    try:
        pools = tuple(int(p) for p in text.replace(" ", "").split(",") if p != "")
    except ValueError:
        raise InputError(f"pools {text!r}: give comma-separated positions 0 to 8, e.g. 0,2,4") from None
    if not pools:
        raise InputError("pools: give at least one position 0 to 8, e.g. 0,2,4")
    return ArchConfig(pools=pools).pool_positions


def skips(cfg: ArchConfig, widths: list[tuple[int, int, int]]) -> list[str]:
    """Per fire module: "" no skip, "identity" or "conv" (a 1x1 convolution on the skip)."""
    out, c = [], CONV1[cfg.version][0]
    for i, (_, e1, e3) in enumerate(widths):
        same = c == e1 + e3
        if cfg.bypass == "complex":
            out.append("identity" if same else "conv")
        else:
            out.append("identity" if cfg.bypass and i in _SIMPLE_BYPASS_AT and same else "")
        c = e1 + e3
    return out


def metaparameters(**given) -> dict:
    """The paper's metaparameters that were given (not None), as `ArchConfig` fields."""
    unknown = set(given) - set(METAPARAMETERS)
    if unknown:
        raise InputError(f"unknown metaparameter(s) {sorted(unknown)}; use {', '.join(METAPARAMETERS)}")
    return {k: v for k, v in given.items() if v is not None}


def fire_widths(cfg: ArchConfig) -> list[tuple[int, int, int]]:
    """(squeeze, expand1x1, expand3x3) for the eight fire modules: `cfg.widths`, else the paper's formula."""
    if cfg.widths:
        if len(cfg.widths) != 8 or any(len(w) != 3 or min(w) < 1 for w in cfg.widths):
            raise InputError(
                f"explicit fire widths {list(cfg.widths)}: need 8 (squeeze, expand1x1, expand3x3) "
                "triples of positive channel counts"
            )
        return [tuple(w) for w in cfg.widths]
    if cfg.freq < 1 or cfg.base_e < 1 or cfg.incr_e < 0 or not 0 < cfg.sr <= 1:
        raise InputError(
            f"metaparameters base_e={cfg.base_e}, incr_e={cfg.incr_e}, sr={cfg.sr}, freq={cfg.freq}: "
            "need base_e >= 1, incr_e >= 0, 0 < sr <= 1 and freq >= 1"
        )
    widths = []
    for i in range(8):
        e = cfg.base_e + cfg.incr_e * (i // cfg.freq)
        e3 = int(round(e * cfg.pct3x3))
        if e3 < 1 or e - e3 < 1:
            raise InputError(
                f"metaparameters base_e={cfg.base_e}, pct3x3={cfg.pct3x3} leave fire module {i + 2} "
                f"with {e - e3} 1x1 and {e3} 3x3 expand filters; give a larger --base-e or a "
                "--pct3x3 nearer 0.5"
            )
        widths.append((max(1, int(round(cfg.sr * e))), e - e3, e3))
    return widths
