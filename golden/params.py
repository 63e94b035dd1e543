"""Parameters of an AXELRAM macro and every number derived from them.

This module is the one source of truth for the macro's arithmetic: the golden model
(:mod:`axelram.golden.fixed`) and the HDL read the fixed-point constants, the shifts and every
bit width from a :class:`Params`, and nothing computes a width anywhere else.

Widths are not estimated from formulas of the form ``W + log2(d) + 1``: each stage's value range
is propagated as an exact integer interval from the input range (any sign vector, any input
vector), and the width is the fewest bits that hold that interval. So no value can overflow for
any legal input, and no register is wider than the worst case needs. ``docs/arithmetic.md`` gives
the formula of every stage.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .codebook import KINDS, Codebook, codebook

__all__ = ["Params", "signed_width", "unsigned_width", "round_shift", "float_encode"]

# NumPy's int64 carries the golden model: no value may need more bits.
MAX_WIDTH = 63


def unsigned_width(hi: int) -> int:
    """Bits of an unsigned value in ``[0, hi]`` (at least 1)."""
    return max(1, int(hi).bit_length())


def signed_width(lo: int, hi: int) -> int:
    """Bits of a two's complement value in ``[lo, hi]`` (at least 1)."""
    return 1 + max(int(hi).bit_length(), (-int(lo) - 1).bit_length() if lo < 0 else 0)


def round_shift(x, shift: int):
    """``x / 2**shift`` rounded to nearest, ties toward +inf: ``(x + 2**(shift-1)) >> shift``.

    Works on Python ints and on integer NumPy arrays alike (``>>`` is an arithmetic shift).
    """
    if shift == 0:
        return x
    return (x + (1 << (shift - 1))) >> shift


def float_encode(n, mantissa: int):
    """Round non-negative integers ``n`` to ``mantissa`` significant bits: ``(m, e)``.

    The value is ``m << e``. Values below ``2**mantissa`` are exact with ``e = 0``; larger ones
    are rounded to nearest (ties up); a rounding carry out of the top bit renormalizes. Works
    element-wise on integer arrays.
    """
    n = np.asarray(n, dtype=np.int64)
    e = np.maximum(_bit_length(n) - mantissa, 0)
    m = np.where(e > 0, (n + (np.int64(1) << np.maximum(e - 1, 0))) >> e, n)
    carry = m >> mantissa
    return m >> carry, e + carry


def _bit_length(n):
    """Element-wise ``int.bit_length`` of non-negative int64 values (exact for all of them)."""
    n = np.asarray(n, dtype=np.int64)
    length = np.zeros(n.shape, dtype=np.int64)
    for step in (32, 16, 8, 4, 2, 1):
        length = length + np.where((n >> (length + step)) > 0, step, 0)
    return length + (n > 0)


SCORE_MULTIPLIERS = ("fabric", "dsp")


def _check_int(name, value, lo, hi, extra=""):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}{extra}, got {value}")


@dataclass(frozen=True)
class Params:
    """The parameters of one AXELRAM macro, checked at construction, with derived facts.

    Parameters
    ----------
    d : int
        Head dimension, a power of two in 2..1024.
    b : int
        Index bits per coordinate, 1..8 (``2**b`` codebook levels).
    in_width : int
        Two's complement width of key and query coordinates, 2..32.
    depth : int
        Keys the index store holds (T), 1..2**24.
    codebook : str
        ``"gaussian"`` (Lloyd-Max for N(0,1)) or ``"beta"`` (for the exact coordinate
        distribution of a random unit vector in R^d).
    codebook_frac : int
        Fractional bits of the codebook's boundaries and centroids, 1..30.
    norm_frac : int
        Fractional bits of the key norm, 0..16.
    table_width : int
        Largest width of a query-table entry, 2..48; the full products are rounded to it.
    norm_mantissa : int
        0..32. M > 0 stores the norm rounded to M significant bits with an exponent (a reduced
        float, like the paper's FP16 norm); 0, or an M that holds every norm already, stores the
        exact norm (see :attr:`norm_rounded`).
    score_multiplier : str
        How the hardware builds the score's one multiplication (significand x sum); the golden
        model does not depend on it. ``"fabric"``: shifts and adds with a register after every
        adder (:func:`axelram.hdl.arith.shift_add_mul`), for a flow that cannot put pipeline
        registers inside a DSP block (Yosys on ECP5); ``"dsp"``: a multiplier with registers on
        its inputs and two after it, for a flow that packs them into the DSP block (Yosys
        ``synth_ice40 -dsp``, vendor tools). With ``"dsp"`` the norm unit's squarers are DSP
        multipliers too (with ``"fabric"`` they are shift-and-add up to four lanes).

    Every width, shift and constant is a property of this object.
    """

    d: int = 128
    b: int = 3
    in_width: int = 16
    depth: int = 4096
    codebook: str = "gaussian"
    codebook_frac: int = 16
    norm_frac: int = 4
    table_width: int = 18
    norm_mantissa: int = 12
    score_multiplier: str = "fabric"

    def __post_init__(self):
        if not isinstance(self.d, int) or isinstance(self.d, bool):
            raise TypeError(f"d must be an integer, got {self.d!r}")
        if not (2 <= self.d <= 1024 and self.d & (self.d - 1) == 0):
            raise ValueError(f"d must be a power of two in 2..1024, got {self.d}")
        _check_int("b", self.b, 1, 8)
        _check_int("in_width", self.in_width, 2, 32)
        _check_int("depth", self.depth, 1, 1 << 24)
        if self.codebook not in KINDS:
            raise ValueError(f"codebook must be one of {', '.join(KINDS)}, got {self.codebook!r}")
        _check_int("codebook_frac", self.codebook_frac, 1, 30)
        _check_int("norm_frac", self.norm_frac, 0, 16)
        _check_int("table_width", self.table_width, 2, 48)
        _check_int("norm_mantissa", self.norm_mantissa, 0, 32)
        if self.score_multiplier not in SCORE_MULTIPLIERS:
            raise ValueError(f"score_multiplier must be one of {', '.join(SCORE_MULTIPLIERS)}, "
                             f"got {self.score_multiplier!r}")
        boundaries = self.boundaries_fixed
        if boundaries.size and (boundaries[0] <= 0 or np.any(np.diff(boundaries) <= 0)):
            raise ValueError(f"codebook_frac must be larger: {self.codebook_frac} fractional bits "
                             f"do not separate the {self.levels - 1} boundaries of b={self.b}")
        for name, width in self.widths.items():
            if name != "row" and width > MAX_WIDTH:
                raise ValueError(f"in_width={self.in_width} at d={self.d} needs a {width}-bit "
                                 f"{name}; axelram supports values of at most {MAX_WIDTH} bits")

    # -- Shape of the macro ----------------------------------------------------------------------

    @property
    def log2_d(self) -> int:
        return self.d.bit_length() - 1

    @property
    def levels(self) -> int:
        """Codebook levels, ``2**b``."""
        return 1 << self.b

    @property
    def half(self) -> int:
        """Levels on one side of zero, ``2**(b-1)``; index ``half + c`` is positive cell ``c``."""
        return 1 << (self.b - 1)

    # -- Codebook in fixed point -----------------------------------------------------------------

    @cached_property
    def cb(self) -> Codebook:
        """The float codebook, standardized units (coordinate of a unit vector times sqrt(d))."""
        return codebook(self.d, self.b, self.codebook)

    @cached_property
    def boundaries_fixed(self) -> np.ndarray:
        """Positive boundaries ``round(t * 2**codebook_frac)``, ascending: ``half - 1`` values."""
        return _to_fixed(self.cb.boundaries[self.half:], self.codebook_frac)

    @cached_property
    def centroids_fixed(self) -> np.ndarray:
        """Positive centroids ``round(c * 2**codebook_frac)``, ascending: ``half`` values.

        The negative half is the exact negation: level ``half - 1 - c`` is ``-centroids_fixed[c]``.
        """
        return _to_fixed(self.cb.centroids[self.half:], self.codebook_frac)

    # -- Value ranges, stage by stage (exact integer intervals) ------------------------------------

    @property
    def in_max(self) -> int:
        return (1 << (self.in_width - 1)) - 1

    @property
    def in_min(self) -> int:
        return -(1 << (self.in_width - 1))

    @property
    def flip_max(self) -> int:
        """Largest magnitude after the sign flip: ``-in_min`` (the flip of the most negative)."""
        return -self.in_min

    def fwht_max(self, stage: int) -> int:
        """Largest magnitude after ``stage`` butterfly stages (``stage`` in 0..log2_d)."""
        return self.flip_max << stage

    @property
    def rotated_max(self) -> int:
        """Largest magnitude of a rotated coordinate y = H diag(s) x: ``d * 2**(in_width-1)``."""
        return self.fwht_max(self.log2_d)

    @property
    def norm_sq_max(self) -> int:
        """Largest ``sum(k**2)``: every coordinate at ``in_min``."""
        return self.d * self.in_min ** 2

    @property
    def norm_max(self) -> int:
        """Largest norm ``isqrt(sum(k**2) << 2*norm_frac)``."""
        from math import isqrt

        return isqrt(self.norm_sq_max << (2 * self.norm_frac))

    @property
    def norm_rounded(self) -> bool:
        """Whether rows store the norm as a reduced float (``m << e``) rather than exactly."""
        return 0 < self.norm_mantissa < self.norm_width

    @property
    def exponent_max(self) -> int:
        """Largest exponent of the stored reduced-float norm (0 when the norm is exact)."""
        if not self.norm_rounded:
            return 0
        return int(float_encode(self.norm_max, self.norm_mantissa)[1])

    @property
    def stored_norm_max(self) -> int:
        """Largest value of the stored norm, decoded (rounding may exceed ``norm_max``)."""
        if not self.norm_rounded:
            return self.norm_max
        m, e = float_encode(self.norm_max, self.norm_mantissa)
        return int(m) << int(e)

    @property
    def compare_shift(self) -> int:
        """The quantizer compares ``|y|`` with ``(boundary * norm) >> compare_shift``."""
        return self.codebook_frac + self.norm_frac

    @property
    def threshold_product_max(self) -> int:
        """Largest ``boundary * norm`` (0 for b=1, which has no positive boundary)."""
        return int(self.boundaries_fixed[-1]) * self.norm_max if self.half > 1 else 0

    @property
    def product_max(self) -> int:
        """Largest magnitude of a full query-table product ``z * centroid``."""
        return self.rotated_max * int(self.centroids_fixed[-1])

    @cached_property
    def table_shift(self) -> int:
        """Bits dropped from the products so that every entry fits ``table_width`` bits."""
        shift = 0
        while signed_width(0, round_shift(self.product_max, shift)) > self.table_width:
            shift += 1
        return shift

    @property
    def table_max(self) -> int:
        """Largest magnitude of a query-table entry."""
        return round_shift(self.product_max, self.table_shift)

    @property
    def sum_max(self) -> int:
        """Largest magnitude of the adder tree's sum of d entries."""
        return self.d * self.table_max

    @property
    def score_max(self) -> int:
        return self.sum_max * self.stored_norm_max

    @property
    def score_scale_log2(self) -> int:
        """``q . k ~= score * 2**score_scale_log2``, with q and k in input integer units.

        The table holds ``z * c * 2**(codebook_frac - table_shift)`` with ``z = sqrt(d) * Rq``;
        the norm carries ``2**norm_frac``; and ``q . k = |k| * sum(z * c) / d``.
        """
        return self.table_shift - self.codebook_frac - self.norm_frac - self.log2_d

    # -- Widths -----------------------------------------------------------------------------------

    @property
    def flip_width(self) -> int:
        return signed_width(-self.flip_max, self.flip_max)

    def fwht_width(self, stage: int) -> int:
        return signed_width(-self.fwht_max(stage), self.fwht_max(stage))

    @property
    def rotated_width(self) -> int:
        return self.fwht_width(self.log2_d)

    @property
    def norm_sq_width(self) -> int:
        return unsigned_width(self.norm_sq_max)

    def norm_tree_width(self, level: int) -> int:
        """Width of the norm unit's sums of ``2**level`` squares (level 0: one square), each at
        most ``in_min**2``; ``norm_sq_width`` at level ``log2_d``."""
        return unsigned_width(self.in_min ** 2 << level)

    def tree_width(self, level: int) -> int:
        """Width of the score adder tree's sums of ``2**level`` looked-up entries.

        An entry or its ones' complement lies in ``[-2**(w-1), 2**(w-1) - 1]`` for
        ``w = table_entry_width``, so ``2**level`` of them need ``w + level`` bits.
        """
        return self.table_entry_width + level

    @property
    def norm_width(self) -> int:
        return unsigned_width(self.norm_max)

    @property
    def exponent_width(self) -> int:
        return unsigned_width(self.exponent_max) if self.norm_rounded else 0

    @property
    def norm_field_width(self) -> int:
        """Bits of the norm field in a row: the exact norm, or mantissa plus exponent."""
        if not self.norm_rounded:
            return self.norm_width
        return self.norm_mantissa + self.exponent_width

    @property
    def threshold_product_width(self) -> int:
        return unsigned_width(self.threshold_product_max)

    @property
    def compare_width(self) -> int:
        """Unsigned width of both sides of a quantizer comparison: ``|y|`` and a threshold."""
        threshold_max = self.threshold_product_max >> self.compare_shift
        return unsigned_width(max(self.rotated_max, threshold_max))

    @property
    def centroid_width(self) -> int:
        return unsigned_width(int(self.centroids_fixed[-1]))

    @property
    def table_entry_width(self) -> int:
        """Signed width of a query-table entry (at most ``table_width``)."""
        return signed_width(-self.table_max, self.table_max)

    @property
    def sum_width(self) -> int:
        return signed_width(-self.sum_max, self.sum_max)

    @property
    def score_width(self) -> int:
        return signed_width(-self.score_max, self.score_max)

    @property
    def row_width(self) -> int:
        """One stored key: ``d * b`` index bits, then the norm field."""
        return self.d * self.b + self.norm_field_width

    @property
    def widths(self) -> dict:
        """Every stage's width by name (what the docs table and the width tests read)."""
        return {
            "input": self.in_width,
            "sign flip": self.flip_width,
            **{f"butterfly stage {s}": self.fwht_width(s) for s in range(1, self.log2_d + 1)},
            "rotated coordinate": self.rotated_width,
            "norm squared": self.norm_sq_width,
            "square-root radicand": self.norm_sq_width + 2 * self.norm_frac,
            "norm": self.norm_width,
            "stored norm field": self.norm_field_width,
            "threshold product": self.threshold_product_width,
            "quantizer comparison": self.compare_width,
            "query-table product": signed_width(-self.product_max, self.product_max),
            "query-table entry": self.table_entry_width,
            "adder-tree sum": self.sum_width,
            "score": self.score_width,
            "row": self.row_width,
        }


def _to_fixed(values: np.ndarray, frac: int) -> np.ndarray:
    """``round(v * 2**frac)`` of non-negative floats, ties up, as int64."""
    return np.floor(values * (1 << frac) + 0.5).astype(np.int64)
