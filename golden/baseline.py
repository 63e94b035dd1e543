"""Bit-exact model of the conventional baseline: exact integer scores ``q . k``.

The baseline (:class:`~axelram.hdl.baseline.ConventionalMacro`) stores keys uncompressed and
scores each one with ``d`` multiplications and an adder tree. Its widths come from
:func:`baseline_score_width` alone, which the model checks and the HDL declares.
"""

import numpy as np

from .params import MAX_WIDTH, Params, signed_width

__all__ = ["baseline_score_width", "baseline_scores"]


def baseline_score_width(p: Params, terms: int | None = None) -> int:
    """Signed width of a sum of ``terms`` products of two ``in_width``-bit coordinates (``d``
    by default: the score; 1 is one product).

    A product lies in ``[in_min * in_max, in_min**2]`` (both factors at ``in_min`` give the
    largest, ``2**(2w-2)``), so the sum in ``terms`` times that interval: ``2w + log2(terms)``
    bits for a power of two. Raises ``ValueError`` above :data:`~axelram.golden.params.MAX_WIDTH`
    bits (the model's int64).
    """
    terms = p.d if terms is None else terms
    width = signed_width(terms * p.in_min * p.in_max, terms * p.in_min ** 2)
    if width > MAX_WIDTH:
        raise ValueError(f"the conventional baseline at d={p.d}, in_width={p.in_width} needs "
                         f"{width}-bit sums; axelram supports values of at most {MAX_WIDTH} bits")
    return width


def baseline_scores(queries, keys, p: Params) -> np.ndarray:
    """Scores ``(Q, T)``: ``q . k`` of queries ``(Q, d)`` against stored keys ``(T, d)``, exact.

    Coordinates must lie in ``[in_min, in_max]`` (``ValueError`` otherwise); every partial sum
    then fits :func:`baseline_score_width` bits, so the int64 arithmetic is exact.
    """
    baseline_score_width(p)
    queries, keys = (np.asarray(x, dtype=np.int64) for x in (queries, keys))
    for name, x in (("queries", queries), ("keys", keys)):
        if x.ndim != 2 or x.shape[1] != p.d:
            raise ValueError(f"{name} must have shape (n, {p.d}), got {x.shape}")
        if x.size and (x.min() < p.in_min or x.max() > p.in_max):
            raise ValueError(f"{name} must lie in {p.in_min}..{p.in_max} (in_width={p.in_width})")
    return queries @ keys.T
