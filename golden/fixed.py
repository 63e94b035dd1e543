"""Bit-exact integer model of every AXELRAM hardware block.

Each function is one block of the macro, vectorized over any leading axes, on int64 arrays; the
RTL must reproduce its output bit for bit. Widths and constants come from
:class:`~axelram.golden.params.Params`; the arithmetic of each stage is written out in
``docs/arithmetic.md``.

Write path (once per key ``k``, integers of ``in_width`` bits)::

    x = s * k                       sign_flip
    y = H x                         fwht            (unnormalized, Sylvester order)
    N = isqrt(sum(k**2) << 2G)      key_norm        (G = norm_frac)
    idx = quantize(y, N)            quantize        (no division: |y| << (F+G) vs t_q * N)
    row = {idx, encode(N)}          pack_rows       (norm exact, or a reduced float)

Read path (``z = H s q`` once per query, then per stored key)::

    P[j][m] = round(z_j * c_q[m] / 2**table_shift)   query_table
    score   = sum_j P[j][idx_j] * N_stored           score
"""

import numpy as np

from .params import Params, float_encode, round_shift

__all__ = [
    "sign_flip", "fwht", "rotate", "norm_squared", "isqrt", "key_norm", "thresholds", "quantize",
    "cells", "encode_norm", "decode_norm", "pack_rows", "unpack_rows", "query_table", "score",
    "write_keys", "scores",
]


def _int(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def sign_flip(x, signs) -> np.ndarray:
    """``x * s`` for a sign vector ``s`` of +-1 (a conditional negation per coordinate)."""
    return _int(x) * np.asarray(signs, dtype=np.int64)


def fwht(x) -> np.ndarray:
    """Unnormalized Walsh-Hadamard transform ``H_d x`` over the last axis (Sylvester order).

    ``log2(d)`` butterfly stages; stage ``s`` pairs coordinates ``2**(s-1)`` apart into
    ``(a + b, a - b)``. Exact on integers (values grow by one bit per stage); float input stays
    float (the float reference uses it).
    """
    x = np.asarray(x)
    d, lead = x.shape[-1], x.shape[:-1]
    if not np.issubdtype(x.dtype, np.floating):
        # int32 whenever no sum can leave it (a speed-up only: the values are the same).
        fits = x.size == 0 or int(np.abs(x).max(initial=0)) * d < 2**31
        x = x.astype(np.int32 if fits else np.int64)
    # Work on the transpose: a butterfly then adds and subtracts whole contiguous rows.
    t = np.ascontiguousarray(x.reshape(-1, d).T)
    h = 1
    while h < d:
        pairs = t.reshape(d // (2 * h), 2, h, -1)
        a, b = pairs[:, 0], pairs[:, 1]
        t = np.stack((a + b, a - b), axis=1).reshape(d, -1)
        h *= 2
    return t.T.reshape(*lead, d).astype(np.float64 if x.dtype.kind == "f" else np.int64)


def rotate(x, signs) -> np.ndarray:
    """The rotator block: ``H_d diag(s) x``, exact integers (``sqrt(d)`` times ``R x``)."""
    return fwht(sign_flip(x, signs))


def norm_squared(k) -> np.ndarray:
    """``sum(k**2)`` over the last axis, exact."""
    k = _int(k)
    return np.einsum("...i,...i->...", k, k)


def isqrt(n) -> np.ndarray:
    """Integer square root ``floor(sqrt(n))`` of non-negative int64 values, exact."""
    n = _int(n)
    # The float estimate is off by at most one: correct it both ways without overflowing int64
    # (3037000499 is isqrt(2**63 - 1)).
    r = np.minimum(np.floor(np.sqrt(n.astype(np.float64))), 3037000499).astype(np.int64)
    r = np.where(r * r > n, r - 1, r)
    return np.where(r + 1 <= n // (r + 1), r + 1, r)


def key_norm(k, p: Params) -> np.ndarray:
    """The norm unit: ``isqrt(sum(k**2) << 2*norm_frac)``, with ``norm_frac`` fraction bits.

    A zero key has norm 0.
    """
    return isqrt(norm_squared(k) << (2 * p.norm_frac))


def cells(magnitude, limits, negative, half: int) -> np.ndarray:
    """Codebook index from a magnitude and the positive thresholds (shared with the float model).

    ``c`` counts the thresholds the magnitude exceeds strictly; the index is ``half + c`` for a
    non-negative coordinate and ``half - 1 - c`` for a negative one. A value exactly on a
    threshold falls in the inner cell; zero falls in cell ``half``.

    ``magnitude`` has shape ``(..., d)``, the positive thresholds ``limits`` ``(..., half - 1)``,
    ``negative`` is broadcast against ``magnitude``.
    """
    idx = np.full(np.shape(magnitude), half, dtype=np.int16)
    for m in range(half - 1):
        idx += magnitude > limits[..., m, None]
    # For a negative value, half - 1 - c is (2 half - 1) - (half + c): all b bits inverted.
    idx ^= np.multiply(negative, 2 * half - 1, dtype=np.int16)
    return idx.astype(np.int64)


def thresholds(norm, p: Params) -> np.ndarray:
    """Quantizer thresholds for norms ``N``: ``(t_q * N) >> compare_shift``, ``(..., half - 1)``.

    ``y / (sqrt(d) |k|) > t / sqrt(d)`` is ``y > t |k|``; in fixed point
    ``|y| << (codebook_frac + norm_frac) > t_q * N``, and for an integer ``|y|`` that is
    ``|y| > (t_q * N) >> (codebook_frac + norm_frac)``: the dropped bits never matter.
    """
    return (p.boundaries_fixed * _int(norm)[..., None]) >> p.compare_shift


def quantize(y, norm, p: Params) -> np.ndarray:
    """The comparator quantizer: index of each rotated coordinate, without a division.

    ``|y|`` against :func:`thresholds` (strictly greater), the sign choosing the half.
    ``y`` has shape ``(..., d)``, ``norm`` ``(...)``.
    """
    y = _int(y)
    limits = thresholds(norm, p)
    if p.rotated_max < 2**31:
        # A speed-up only: a limit above every |y| compares the same once clipped to int32.
        y, limits = y.astype(np.int32), np.minimum(limits, p.rotated_max).astype(np.int32)
    return cells(np.abs(y), limits, y < 0, p.half)


def encode_norm(norm, p: Params) -> np.ndarray:
    """The norm field of a row: ``N`` itself, or ``m | e << norm_mantissa`` (``N ~= m << e``)."""
    if not p.norm_rounded:
        return _int(norm)
    m, e = float_encode(norm, p.norm_mantissa)
    return m | (e << p.norm_mantissa)


def decode_norm(field, p: Params) -> np.ndarray:
    """The stored norm's value, in the units of :func:`key_norm`: ``m << e`` for a reduced float."""
    field = _int(field)
    if not p.norm_rounded:
        return field
    mask = (1 << p.norm_mantissa) - 1
    return (field & mask) << (field >> p.norm_mantissa)


def pack_rows(idx, field, p: Params) -> np.ndarray:
    """SRAM rows: index ``j`` in bits ``[j*b, (j+1)*b)``, the norm field above ``d*b``.

    Returns little-endian 64-bit words, shape ``(..., ceil(row_width / 64))``.
    """
    idx, field = _int(idx), _int(field)
    lead = idx.shape[:-1]
    bits = np.zeros((*lead, 64 * -(-p.row_width // 64)), dtype=np.uint8)
    bits[..., : p.d * p.b] = np.unpackbits(
        idx.astype(np.uint8)[..., None], axis=-1, count=p.b, bitorder="little"
    ).reshape(*lead, p.d * p.b)
    bits[..., p.d * p.b : p.row_width] = np.unpackbits(
        field.astype("<u8")[..., None].view(np.uint8), axis=-1, count=p.norm_field_width,
        bitorder="little")
    return np.packbits(bits, axis=-1, bitorder="little").view("<u8")


def unpack_rows(rows, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`pack_rows`: ``(idx, field)``."""
    rows = np.ascontiguousarray(np.asarray(rows, dtype="<u8"))
    bits = np.unpackbits(rows.view(np.uint8), axis=-1, bitorder="little").astype(np.int64)
    weights = np.int64(1) << np.arange(max(p.b, p.norm_field_width), dtype=np.int64)
    idx = bits[..., : p.d * p.b].reshape(*bits.shape[:-1], p.d, p.b) @ weights[: p.b]
    field = bits[..., p.d * p.b : p.row_width] @ weights[: p.norm_field_width]
    return idx, field


def query_table(z, p: Params) -> np.ndarray:
    """The query table ``P[..., j, m]`` from a rotated query ``z`` (shape ``(..., d)``).

    Positive levels ``half + c``: ``round_shift(z_j * c_q[c], table_shift)``; negative levels are
    their exact negations, ``P[j][half - 1 - c] = -P[j][half + c]``, so a table of
    ``d * 2**(b-1)`` entries and a negation give the same values as the full ``d * 2**b`` table.
    """
    positive = round_shift(_int(z)[..., None] * p.centroids_fixed, p.table_shift)
    return np.concatenate([-positive[..., ::-1], positive], axis=-1)


def score(table, idx, field, p: Params) -> np.ndarray:
    """Scores of stored keys against one query's table: ``sum_j P[j][idx_j] * N_stored``.

    ``table`` has shape ``(d, 2**b)``, ``idx`` ``(T, d)`` and ``field`` ``(T,)``; returns ``(T,)``.
    ``q . k ~= score * 2**p.score_scale_log2``.
    """
    return _grouped_sum(table, _group_indices(idx, p), p) * decode_norm(field, p)


# A speed-up only, exact like any integer sum: the lookups of `_GROUP_BITS // b` neighbouring
# coordinates are summed once per query into one table indexed by their indices together, so a
# key costs d / group lookups instead of d.
_GROUP_BITS = 12


def _group(p: Params) -> int:
    g = 1
    while 2 * g * p.b <= _GROUP_BITS and 2 * g <= p.d:
        g *= 2
    return g


def _group_indices(idx, p: Params) -> np.ndarray:
    """``(d / g, T)``: where each group of ``g`` coordinates looks up the flattened grouped
    tables (group ``k`` at ``k * 2**(b g)``, its coordinate 0 in the lowest index bits). Groups
    are the leading axis so that summing them adds whole contiguous rows."""
    g = _group(p)
    groups = (_int(idx).reshape(-1, p.d // g, g) << (p.b * np.arange(g))).sum(axis=-1)
    return np.ascontiguousarray((groups + (np.arange(p.d // g) << (p.b * g))).T)


def _grouped_sum(table, groups, p: Params) -> np.ndarray:
    """``sum_j P[j][idx_j]`` for every key, from :func:`_group_indices`."""
    g = _group(p)
    dtype = np.int32 if p.sum_width <= 31 else np.int64
    entries = _int(table).astype(dtype).reshape(p.d // g, g, p.levels)
    combined = entries[:, g - 1]
    for i in range(g - 2, -1, -1):  # lower coordinates vary fastest
        combined = (combined[:, :, None] + entries[:, i, None, :]).reshape(p.d // g, -1)
    return np.take(combined.ravel(), groups).sum(axis=0, dtype=dtype)


def write_keys(keys, signs, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """The whole write path: ``(idx, norm_field)`` of keys shaped ``(..., d)``.

    Works through the keys in blocks that stay in cache (a speed-up only).
    """
    keys = _int(keys)
    flat = keys.reshape(-1, p.d)
    idx = np.empty(flat.shape, dtype=np.int64)
    field = np.empty(flat.shape[0], dtype=np.int64)
    for start in range(0, flat.shape[0], _WRITE_BLOCK):
        block = flat[start:start + _WRITE_BLOCK]
        norm = key_norm(block, p)
        idx[start:start + _WRITE_BLOCK] = quantize(rotate(block, signs), norm, p)
        field[start:start + _WRITE_BLOCK] = encode_norm(norm, p)
    return idx.reshape(keys.shape), field.reshape(keys.shape[:-1])


_WRITE_BLOCK = 2048


def scores(queries, idx, field, signs, p: Params) -> np.ndarray:
    """The whole read path: scores ``(Q, T)`` of queries ``(Q, d)`` against stored keys."""
    tables = query_table(rotate(queries, signs), p)
    groups = _group_indices(idx, p)
    sums = np.stack([_grouped_sum(t, groups, p) for t in tables])
    return sums.astype(np.int64) * decode_norm(field, p)
