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

import functools
import itertools
from typing import NamedTuple

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
        t = np.empty_like(pairs)
        np.add(pairs[:, 0], pairs[:, 1], out=t[:, 0])
        np.subtract(pairs[:, 0], pairs[:, 1], out=t[:, 1])
        t = t.reshape(d, -1)
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
    return _cells(magnitude, limits, negative, half).astype(np.int64)


def _cells(magnitude, limits, negative, half: int) -> np.ndarray:
    """:func:`cells` as uint8 (every index of b <= 8 bits fits)."""
    count = np.zeros(np.shape(magnitude), dtype=np.uint8)
    for limit in limits:
        count += np.greater(magnitude, limit).view(np.uint8)
    # half + c is half | c, and half - 1 - c is (half - 1) ^ c (c < half): both c ^ (half - neg).
    count ^= np.subtract(half, negative, dtype=np.uint8)
    return count


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
    limits = np.moveaxis(thresholds(norm, p), -1, 0)[..., None]
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
    words = _pack_columns(idx.reshape(-1, p.d).T, field.reshape(-1), p)
    return np.ascontiguousarray(words.T).reshape(*idx.shape[:-1], -1)


def _pack_columns(idx, field, p: Params) -> np.ndarray:
    """:func:`pack_rows` of the columns of ``idx`` ``(d, n)``: words ``(ceil(row/64), n)``.

    Every ``g`` neighbouring indices first become one field of ``g*b <= 24`` bits, in float32
    products that are exact (disjoint bits, all below 2**24).
    """
    layout = _pack_layout(p)
    groups = layout.weights @ idx.reshape(-1, layout.weights.size, idx.shape[1]).astype(np.float32)
    fields = np.concatenate([groups.astype(np.uint64), field.astype(np.uint64)[None]])
    shifted = fields << layout.offset[:, None]  # a field across a word boundary loses its top
    # The fields starting in one word have disjoint bits: their sum is their OR.
    out = np.stack([shifted[lo:hi].sum(axis=0) for lo, hi in itertools.pairwise(layout.bounds)])
    across = layout.across
    out[layout.word[across] + 1] |= fields[across] >> (np.uint64(64) - layout.offset[across, None])
    return out


class _PackLayout(NamedTuple):
    """Where :func:`_pack_columns` puts its fields (the index groups, then the norm field)."""

    weights: np.ndarray  # 2**(b*i) for the g indices of one group, float32
    word: np.ndarray  # the word each field starts in
    offset: np.ndarray  # the bit it starts at in that word, uint64
    bounds: np.ndarray  # the fields bounds[w]:bounds[w+1] start in word w
    across: np.ndarray  # the fields that run on into the next word


@functools.cache
def _pack_layout(p: Params) -> _PackLayout:
    """The :class:`_PackLayout` of ``p``, with ``g`` the largest power of two ``<= d`` whose
    ``b``-bit indices fit 24 bits."""
    g = 1
    while 2 * g <= p.d and 2 * g * p.b <= 24:
        g *= 2
    widths = np.array([g * p.b] * (p.d // g) + [p.norm_field_width])
    starts = np.cumsum(widths) - widths
    word, offset = starts // 64, starts % 64
    return _PackLayout(weights=np.ldexp(np.float32(1), p.b * np.arange(g)), word=word,
                       offset=offset.astype(np.uint64),
                       bounds=np.searchsorted(word, np.arange(-(-p.row_width // 64) + 1)),
                       across=np.flatnonzero(offset + widths > 64))


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
    """The whole write path: ``(idx, norm_field)`` of keys shaped ``(..., d)``."""
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


# The write path is a speed-up only: its values are those of the block functions, as the tests
# check. It takes the keys in blocks that stay in cache, one key per column; rotates each block
# with small matrix products (BLAS) and butterflies, in a float that holds every partial sum
# exactly; and compares and packs whole rows of coordinates at a time. A block holds at most
# 2048 keys and 2**18 coordinates, which also keeps every product at most 2**19 multiply-adds:
# numpy's OpenBLAS runs those on one thread even when it may use more (measured; it splits
# larger ones over threads that, on a busy machine, mostly wait for each other).
_WRITE_BLOCK = 2048
_WRITE_BLOCK_COORDINATES = 2**18


def _write_blocks(keys, signs, p: Params):
    """``(rows, idx (d, n) uint8, norm (n,))`` for each block of keys, one key per column."""
    flat = keys.reshape(-1, p.d)
    factors = _block_factors(signs, _exact_dtype(p.rotated_max))
    step = min(_WRITE_BLOCK, _WRITE_BLOCK_COORDINATES // p.d)
    for start in range(0, flat.shape[0], step):
        block = flat[start : start + step]
        norm = _norm(norm_squared(block), p)
        rotated = _rotate_columns(block, factors)
        # A threshold may round in the float, but only to a value >= every |y| (they are all
        # in the float's exact range), so no comparison changes.
        limits = np.ascontiguousarray(thresholds(norm, p).T, dtype=factors.dtype)
        idx = _cells(np.abs(rotated), limits, rotated < 0, p.half)
        yield slice(start, start + step), idx, norm


def _exact_dtype(bound: int):
    """The float whose sums are exact on integers of magnitude up to ``bound``. Every partial
    sum of the rotation is at most ``rotated_max``, which Params keeps below 2**53 (it takes
    in_width <= 32 and d <= 1024), so float64 always serves."""
    return np.float32 if bound <= 2**24 else np.float64


def _block_factors(signs, dtype) -> np.ndarray:
    """``(m, w, w)``: ``H_w diag(s_a)`` for each of the ``m`` blocks ``s_a`` of ``w``
    coordinates of ``s``, ``d = m w`` with ``m`` the largest power of two ``<= w``.

    Sylvester order is a Kronecker product, ``H_d = H_m (x) H_w``, so ``H_d diag(s)`` is
    ``H_m (x) I_w`` after the block-diagonal ``H_w diag(s_a)``.
    """
    signs = np.asarray(signs, dtype=np.int64)
    m = 1 << ((signs.size.bit_length() - 1) // 2)
    width = signs.size // m
    return (fwht(np.eye(width, dtype=np.int64)) * signs.reshape(m, 1, width)).astype(dtype)


def _rotate_columns(keys, factors) -> np.ndarray:
    """:func:`rotate` of keys ``(n, d)`` by :func:`_block_factors`, one key per column:
    ``(d, n)``.

    ``z_a = H_w diag(s_a) k_a`` is one product per block ``a`` (BLAS reads the rows of the keys as
    columns: no transpose is made), then ``H_m`` over the blocks is ``log2(m)`` butterfly stages
    on whole rows: ``2 d w + d log2(m)`` operations per key instead of ``2 d**2``.
    """
    m, width = factors.shape[:2]
    x = keys.astype(factors.dtype)
    z = np.empty((m, width, keys.shape[0]), dtype=factors.dtype)
    for a in range(m):
        np.matmul(factors[a], x[:, a * width : (a + 1) * width].T, out=z[a])
    return _fwht_columns(z.reshape(m, -1)).reshape(-1, keys.shape[0])


def scores(queries, idx, field, signs, p: Params) -> np.ndarray:
    """The whole read path: scores ``(Q, T)`` of queries ``(Q, d)`` against stored keys."""
    tables = query_table(rotate(queries, signs), p)
    groups = _group_indices(idx, p)
    sums = np.stack([_grouped_sum(t, groups, p) for t in tables])
    return sums.astype(np.int64) * decode_norm(field, p)
