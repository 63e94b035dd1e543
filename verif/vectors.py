"""Stimulus shared by the golden-model tests and the RTL regressions."""

import numpy as np

from axelram.golden.fixed import fwht
from axelram.golden.params import Params

__all__ = ["VARIANTS", "extreme_vectors", "random_vectors", "spread"]

#: Params fields a case changes from the defaults, by the name in its test id.
VARIANTS = {
    "default": {},
    "frac0": {"norm_frac": 0},
    "exact": {"norm_mantissa": 0},
    "m6": {"norm_mantissa": 6},
    "beta": {"codebook": "beta"},
    # At d=32, in_width=8 the norm unit's 32 one-lane beats are exactly its serial root's
    # 2 norm_width + 2 cycles per key (norm_width 15).
    "frac5": {"norm_frac": 5},
    # The norm unit's squarers in hard multipliers at any lanes (no shift-and-add front, no
    # lane sums' FIFO).
    "dsp": {"score_multiplier": "dsp"},
}


def extreme_vectors(p: Params, signs) -> np.ndarray:
    """Input vectors at the edges of the legal range, shape ``(n, d)``.

    All coordinates at the minimum or the maximum, alternating, one spike, the zero vector, and
    the vectors that drive a rotated coordinate to its largest magnitude through the sign vector
    ``signs`` (all flipped values at the minimum, at the maximum, and along the last Hadamard
    row).
    """
    d, lo, hi = p.d, p.in_min, p.in_max
    signs = np.asarray(signs, dtype=np.int64)
    alternating = np.where(np.arange(d) % 2 == 0, lo, hi)
    spike = np.zeros(d, dtype=np.int64)
    spike[0] = lo
    last_row = fwht(np.eye(d, dtype=np.int64))[-1]
    return np.stack([
        np.full(d, lo), np.full(d, hi), alternating, lo + hi - alternating, spike, -spike - 1,
        np.zeros(d, dtype=np.int64),
        np.where(signs < 0, hi, lo),              # every flipped value near lo
        np.where(signs < 0, lo, hi),              # every flipped value near -lo
        np.where(signs * last_row < 0, lo, hi),   # aligned with H's last row
    ]).astype(np.int64)


def random_vectors(rng: np.random.Generator, p: Params, n: int) -> np.ndarray:
    """``n`` vectors uniform over the whole input range, shape ``(n, d)``."""
    return rng.integers(p.in_min, p.in_max, size=(n, p.d), endpoint=True, dtype=np.int64)


def spread(rng: np.random.Generator, values: np.ndarray, bits: int) -> np.ndarray:
    """``values`` (one per row) shifted right by a random 0..bits-1: magnitudes in every binade."""
    return values >> rng.integers(0, bits, size=(len(values),) + (1,) * (values.ndim - 1))
