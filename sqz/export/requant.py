"""TFLite's integer requantisation, in Python: real multipliers → (int32 multiplier, shift), and the rounding
arithmetic the kernels apply, so the generated C can be checked against it and its constants computed at export."""

from __future__ import annotations

import math

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(multiplier in [2^30, 2^31), shift) with real ≈ multiplier · 2^(shift − 31), as TFLite's QuantizeMultiplier
    (frexp, round half away from zero, carry into the exponent; tiny values become 0)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    fixed = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q > 0 else -1)
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return INT32_MAX, 30
    return fixed, shift


def doubling_high_mul(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul of two int32 values."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _trunc_div(ab + nudge, 1 << 31)


def _trunc_div(a: int, b: int) -> int:
    """a / b rounded toward zero, as C's integer division."""
    q = abs(a) // b
    return q if a >= 0 else -q


def divide_by_pot(x: int, exponent: int) -> int:
    """RoundingDivideByPOT: x / 2^exponent rounded half away from zero."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def multiply(x: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier (double rounding): x · multiplier · 2^(shift − 31), int32 wrap on the left
    shift as the compiled kernels do."""
    left, right = max(shift, 0), max(-shift, 0)
    shifted = ((x << left) + (1 << 31)) % (1 << 32) - (1 << 31)
    return divide_by_pot(doubling_high_mul(shifted, multiplier), right)
