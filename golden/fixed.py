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
    "write_keys", "write_rows", "scores",
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
    out = np.float64 if np.issubdtype(x.dtype, np.floating) else np.int64
    return _fwht_columns(x.reshape(-1, d).T).T.reshape(*lead, d).astype(out)


def _fwht_columns(x) -> np.ndarray:
    """:func:`fwht` of every column of ``x`` ``(d, n)``: each butterfly then adds and subtracts
    whole contiguous rows (the layout is a speed-up only)."""
    x = np.asarray(x)
    d = x.shape[0]
    if not np.issubdtype(x.dtype, np.floating):
        # int32 whenever no sum can leave it (a speed-up only: the values are the same).
        fits = x.size == 0 or int(np.abs(x).max(initial=0)) * d < 2**31
        x = x.astype(np.int32 if fits else np.int64)
    t = np.ascontiguousarray(x)
    h = 1
    while h < d:
        pairs = t.reshape(d // (2 * h), 2, h, -1)
        a, b = pairs[:, 0], pairs[:, 1]
        t = np.stack((a + b, a - b), axis=1).reshape(d, -1)
        h *= 2
    return t


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
    return _norm(norm_squared(k), p)


def _norm(norm_sq, p: Params) -> np.ndarray:
    return isqrt(_int(norm_sq) << (2 * p.norm_frac))


def cells(magnitude, limits, negative, half: int) -> np.ndarray:
    """Codebook index from a magnitude and the positive thresholds (shared with the float model).

    ``c`` counts the thresholds the magnitude exceeds strictly; the index is ``half + c`` for a
    non-negative coordinate and ``half - 1 - c`` for a negative one. A value exactly on a
    threshold falls in the inner cell; zero falls in cell ``half``.

    ``limits`` holds the ``half - 1`` positive thresholds, ascending, each broadcast against
    ``magnitude``; so is ``negative``.
    """
    idx = np.full(np.shape(magnitude), half, dtype=np.int16)
    for limit in limits:
        idx += magnitude > limit
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
    columns = _quantize_columns(y.reshape(-1, p.d).T, _int(norm).reshape(-1), p)
    return columns.T.reshape(y.shape)


def _quantize_columns(y, norm, p: Params) -> np.ndarray:
    """:func:`quantize` of the columns of ``y`` ``(d, n)`` with their norms ``(n,)``."""
    limits = thresholds(norm, p).T
    if p.rotated_max < 2**31:
        # A speed-up only: a limit above every |y| compares the same once clipped to int32.
        y, limits = y.astype(np.int32), np.minimum(limits, p.rotated_max).astype(np.int32)
    return cells(np.abs(y), [limit[None, :] for limit in limits], y < 0, p.half)


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
    words = _pack_columns(idx.reshape(-1, p.d).T, field.reshape(-1), p)
    return np.ascontiguousarray(words.T).reshape(*idx.shape[:-1], -1)


def _pack_columns(idx, field, p: Params) -> np.ndarray:
    """:func:`pack_rows` of the columns of ``idx`` ``(d, n)``: words ``(ceil(row/64), n)``."""
    fields = np.concatenate([idx, field[None]]).astype(np.uint64)  # one row per field
    widths = np.array([p.b] * p.d + [p.norm_field_width])
    starts = np.concatenate([[0], np.cumsum(widths)[:-1]])
    word, offset = starts // 64, (starts % 64).astype(np.uint64)
    inside = offset + widths <= 64
    out = np.zeros((-(-p.row_width // 64), fields.shape[1]), dtype=np.uint64)
    for w in range(out.shape[0]):
        # The fields wholly inside word w are consecutive and have disjoint bits: their sum is
        # their OR.
        chosen = np.flatnonzero((word == w) & inside)
        if chosen.size:
            rows = slice(chosen[0], chosen[-1] + 1)
            out[w] = (fields[rows] << offset[rows, None]).sum(axis=0, dtype=np.uint64)
    for f in np.flatnonzero(~inside):  # a field across a word boundary
        out[word[f]] |= fields[f] << offset[f]
        out[word[f] + 1] |= fields[f] >> (np.uint64(64) - offset[f])
    return out


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

    Works through the keys in blocks that stay in cache, one key per column (a speed-up
    only: the values are those of the block functions, as the tests check).
    """
    keys = _int(keys)
    idx = np.empty(keys.shape, dtype=np.int64).reshape(-1, p.d)
    field = np.empty(idx.shape[0], dtype=np.int64)
    for block, columns, norm in _write_blocks(keys, signs, p):
        idx[block] = columns.T
        field[block] = encode_norm(norm, p)
    return idx.reshape(keys.shape), field.reshape(keys.shape[:-1])


def write_rows(keys, signs, p: Params) -> np.ndarray:
    """The whole write path to the packed rows: ``pack_rows(*write_keys(keys, signs, p), p)``."""
    keys = _int(keys)
    rows = np.empty((keys.size // p.d, -(-p.row_width // 64)), dtype="<u8")
    for block, columns, norm in _write_blocks(keys, signs, p):
        rows[block] = _pack_columns(columns, encode_norm(norm, p), p).T
    return rows.reshape(*keys.shape[:-1], -1)


def _write_blocks(keys, signs, p: Params):
    """``(rows, idx (d, n), norm (n,))`` for blocks of keys that stay in cache, one key per
    column (a speed-up only: the values are those of the block functions, as tests check)."""
    flat = keys.reshape(-1, p.d)
    column_signs = np.asarray(signs, dtype=np.int64)[:, None]
    for start in range(0, flat.shape[0], _WRITE_BLOCK):
        columns = np.ascontiguousarray(flat[start:start + _WRITE_BLOCK].T)
        norm = _norm((columns * columns).sum(axis=0), p)
        rotated = _fwht_columns(columns * column_signs)
        yield slice(start, start + _WRITE_BLOCK), _quantize_columns(rotated, norm, p), norm


_WRITE_BLOCK = 2048


def scores(queries, idx, field, signs, p: Params) -> np.ndarray:
    """The whole read path: scores ``(Q, T)`` of queries ``(Q, d)`` against stored keys."""
    tables = query_table(rotate(queries, signs), p)
    groups = _group_indices(idx, p)
    sums = np.stack([_grouped_sum(t, groups, p) for t in tables])
    return sums.astype(np.int64) * decode_norm(field, p)
