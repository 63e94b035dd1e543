"""The bit-exact integer model, block by block, against independent definitions."""

from math import isqrt

import numpy as np
import pytest

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed
from axelram.verif.vectors import extreme_vectors, random_vectors

SEED = 424242


@pytest.fixture
def rng():
    print(f"seed {SEED}")
    return np.random.default_rng(SEED)


def _hadamard(d):
    h = np.ones((1, 1), dtype=np.int64)
    while h.shape[0] < d:
        h = np.block([[h, h], [h, -h]])
    return h


@pytest.mark.parametrize("d", [2, 4, 8, 64, 1024])
def test_fwht_is_the_sylvester_hadamard_matrix(d, rng):
    x = rng.integers(-1000, 1000, size=(20, d))
    np.testing.assert_array_equal(fixed.fwht(x), x @ _hadamard(d))
    np.testing.assert_array_equal(fixed.fwht(fixed.fwht(x)), d * x)


def test_isqrt_exact(rng):
    squares = rng.integers(0, 3_037_000_499, size=2000)  # roots up to sqrt(2**63)
    n = np.concatenate([
        np.arange(0, 10_000), squares * squares, squares * squares - 1, squares * squares + 1,
        rng.integers(0, 2**62, size=5000), [2**63 - 1],
    ]).astype(np.int64)
    n = n[n >= 0]
    np.testing.assert_array_equal(fixed.isqrt(n), [isqrt(int(v)) for v in n])


def test_key_norm_of_zero_is_zero():
    p = Params()
    assert fixed.key_norm(np.zeros(p.d, dtype=np.int64), p) == 0


def _quantize_by_definition(y, norm, p):
    """Independent scalar definition: the cell whose (fixed-point) boundaries enclose y."""
    out = np.empty(y.shape, dtype=np.int64)
    thresholds = [int(t) * int(n) for t in p.boundaries_fixed for n in [norm]]
    for j, v in enumerate(y):
        scaled = int(v) << p.compare_shift
        # Full signed boundary list, ascending: -t_{h-1} .. -t_1, 0, t_1 .. t_{h-1}.
        bounds = [-t for t in reversed(thresholds)] + [0] + thresholds
        # Ties go toward zero: a positive value passes a boundary only strictly above it, a
        # negative value passes a boundary it equals.
        out[j] = sum(scaled > bnd if bnd > 0 else scaled >= bnd for bnd in bounds)
    return out


@pytest.mark.parametrize("b", [1, 2, 3, 4, 8])
def test_quantize_matches_definition(b, rng):
    p = Params(d=16, b=b, in_width=10)
    for _ in range(200):
        norm = int(rng.integers(0, p.norm_max + 1))
        y = rng.integers(-p.rotated_max, p.rotated_max + 1, size=p.d)
        expected = _quantize_by_definition(y, norm, p)
        np.testing.assert_array_equal(fixed.quantize(y, norm, p), expected)


def test_quantize_ties_fall_inward():
    p = Params(d=4, b=3, in_width=16, norm_frac=0, codebook_frac=4)
    t = p.boundaries_fixed  # boundaries in 1/16
    norm = 16  # makes every threshold t * 16 an integer multiple of 2**compare_shift
    on = t * norm >> p.compare_shift
    assert np.all((on << p.compare_shift) == t * norm)
    y = np.array([on[0], -on[0], on[0] + 1, -on[0] - 1])
    # on the first threshold: cells half and half-1 (inner); one past it: the next cells out
    np.testing.assert_array_equal(fixed.quantize(y, norm, p), [4, 3, 5, 2])
    np.testing.assert_array_equal(fixed.quantize(np.array([0, 0, 0, 0]), 0, p), [4, 4, 4, 4])


def test_quantize_is_symmetric_and_monotonic(rng):
    p = Params(d=256, b=4)
    norm = int(p.norm_max // 3)
    y = np.sort(rng.integers(1, p.rotated_max, size=p.d))
    idx = fixed.quantize(y, norm, p)
    assert np.all(np.diff(idx) >= 0)
    np.testing.assert_array_equal(fixed.quantize(-y, norm, p), p.levels - 1 - idx)


def test_quantize_agrees_with_float_codebook_away_from_boundaries(rng):
    p = Params(d=128, b=3)
    signs = signs_from_seed(0, p.d)
    keys = random_vectors(rng, p, 500)
    y = fixed.rotate(keys, signs)
    norm = np.linalg.norm(keys, axis=-1)
    t = y / norm[:, None]
    margin = np.min(np.abs(t[..., None] - p.cb.boundaries), axis=-1)
    expected = np.searchsorted(p.cb.boundaries, t)
    idx = fixed.quantize(y, fixed.key_norm(keys, p), p)
    safe = margin > 1e-3
    assert safe.mean() > 0.99
    np.testing.assert_array_equal(idx[safe], expected[safe])


# An exact norm field across the first word boundary (bits 48..79): the widest Params allows at
# d=16 (32 bits; the square root's radicand, norm squared << 2 norm_frac, must fit 63 bits).
WIDE_NORM = {"d": 16, "in_width": 14, "norm_frac": 16, "norm_mantissa": 0}


@pytest.mark.parametrize("kwargs", [{}, {"norm_mantissa": 0}, {"d": 2, "b": 1, "in_width": 4},
                                    {"d": 64, "b": 8, "norm_mantissa": 5}, {"d": 8, "b": 7},
                                    WIDE_NORM])
def test_pack_layout_and_roundtrip(kwargs, rng):
    p = Params(**kwargs)
    top = (1 << p.norm_field_width) - 1
    idx = np.concatenate([rng.integers(0, p.levels, size=(30, p.d)),
                          np.full((1, p.d), p.levels - 1), np.zeros((1, p.d), dtype=np.int64)])
    field = np.concatenate([rng.integers(0, top, size=30, endpoint=True), [top, 0]])
    rows = fixed.pack_rows(idx, field, p)
    assert rows.shape == (len(idx), -(-p.row_width // 64))
    for r in range(len(idx)):
        as_int = sum(int(w) << (64 * i) for i, w in enumerate(rows[r]))
        expected = sum(int(v) << (j * p.b) for j, v in enumerate(idx[r]))
        expected |= int(field[r]) << (p.d * p.b)
        assert as_int == expected
    assert rows[-2].tolist() == [(1 << 64) - 1] * (p.row_width // 64) + (
        [(1 << p.row_width % 64) - 1] if p.row_width % 64 else [])
    back_idx, back_field = fixed.unpack_rows(rows, p)
    np.testing.assert_array_equal(back_idx, idx)
    np.testing.assert_array_equal(back_field, field)


def test_norm_field_roundtrip_and_error():
    p = Params()
    norm = np.arange(0, p.norm_max + 1, 997, dtype=np.int64)
    stored = fixed.decode_norm(fixed.encode_norm(norm, p), p)
    assert np.all(np.abs(stored - norm) <= np.maximum(norm, 1) * 2.0**-p.norm_mantissa)
    np.testing.assert_array_equal(stored[norm < (1 << p.norm_mantissa)],
                                  norm[norm < (1 << p.norm_mantissa)])
    exact = Params(norm_mantissa=0)
    np.testing.assert_array_equal(fixed.decode_norm(fixed.encode_norm(norm, exact), exact), norm)


def test_query_table_negative_half_is_exact_negation(rng):
    p = Params(b=4)
    z = rng.integers(-p.rotated_max, p.rotated_max + 1, size=(10, p.d))
    table = fixed.query_table(z, p)
    np.testing.assert_array_equal(table[..., : p.half], -table[..., p.half:][..., ::-1])
    positive = (z[..., None] * p.centroids_fixed + (1 << (p.table_shift - 1))) >> p.table_shift
    np.testing.assert_array_equal(table[..., p.half:], positive)


def test_score_by_definition(rng):
    p = Params(d=8, b=3, in_width=8)
    signs = signs_from_seed(2, p.d)
    keys = np.concatenate([extreme_vectors(p, signs), random_vectors(rng, p, 20)])
    queries = random_vectors(rng, p, 3)
    idx, field = fixed.write_keys(keys, signs, p)
    scores = fixed.scores(queries, idx, field, signs, p)
    for qi, q in enumerate(queries):
        table = fixed.query_table(fixed.rotate(q, signs), p)
        for ki in range(len(keys)):
            total = sum(int(table[j, idx[ki, j]]) for j in range(p.d))
            assert scores[qi, ki] == total * int(fixed.decode_norm(field[ki], p))


def test_zero_key_scores_zero(rng):
    p = Params()
    signs = signs_from_seed(0, p.d)
    idx, field = fixed.write_keys(np.zeros((1, p.d), dtype=np.int64), signs, p)
    assert field[0] == 0
    np.testing.assert_array_equal(idx, p.half)
    np.testing.assert_array_equal(
        fixed.scores(random_vectors(rng, p, 5), idx, field, signs, p), 0)


def _assert_write_path_equals_blocks(p, signs, keys):
    norm = fixed.key_norm(keys, p)
    idx = fixed.quantize(fixed.rotate(keys, signs), norm, p)
    field = fixed.encode_norm(norm, p)
    got_idx, got_field = fixed.write_keys(keys, signs, p)
    np.testing.assert_array_equal(got_idx, idx)
    np.testing.assert_array_equal(got_field, field)
    rows = fixed.write_rows(keys.reshape(2, -1, p.d), signs, p)
    np.testing.assert_array_equal(rows.reshape(len(keys), -1), fixed.pack_rows(idx, field, p))


@pytest.mark.parametrize("kwargs", [{}, {"d": 2, "b": 1, "in_width": 4}, {"d": 4, "b": 3},
                                    {"d": 64, "b": 8, "norm_mantissa": 0},
                                    {"d": 256, "b": 5, "in_width": 24, "norm_frac": 0},
                                    {"d": 8, "b": 7}, WIDE_NORM, {"d": 1024, "in_width": 23}])
def test_write_path_equals_its_blocks(kwargs, rng):
    """``write_keys`` and ``write_rows`` (blocked, one key per column, rotated in floats) give
    exactly what the block functions give one after the other, across block boundaries and
    leading axes."""
    p = Params(**kwargs)
    signs = signs_from_seed(9, p.d)
    keys = np.concatenate([extreme_vectors(p, signs), random_vectors(rng, p, 5000)])
    _assert_write_path_equals_blocks(p, signs, keys)


@pytest.mark.parametrize(("in_width", "float32_exact"), [(18, True), (19, False)])
def test_write_path_at_the_float32_bound(in_width, float32_exact, rng):
    """The write path rotates in float32 while ``rotated_max <= 2**24`` (every partial sum then
    fits its significand), in float64 beyond. At d=128, in_width 18 reaches 2**24 exactly and
    float32 is exact; in_width 19 reaches 2**25 - 1, an odd sum that float32 rounds."""
    p = Params(in_width=in_width)
    signs = np.ones(p.d, dtype=np.int64)  # y_0 = sum(k): keys all at in_min reach rotated_max
    edge = np.full((2, p.d), p.in_min)
    edge[1, 0] += 1
    keys = np.concatenate([edge, extreme_vectors(p, signs), random_vectors(rng, p, 3000)])
    exact = fixed.rotate(keys, signs)
    np.testing.assert_array_equal(exact[:2, 0], [-p.rotated_max, 1 - p.rotated_max])
    in_float32 = fixed._rotate_columns(keys, fixed._block_factors(signs, np.float32)).T
    assert np.array_equal(in_float32, exact) == float32_exact
    assert (fixed._exact_dtype(p.rotated_max) is np.float32) == float32_exact
    _assert_write_path_equals_blocks(p, signs, keys)


def test_write_path_float_thresholds_round_above_every_coordinate(rng):
    """d=2, b=8, in_width=24 rotates in float32 (rotated_max = 2**24), but its outer thresholds
    exceed 2**24 and are not float32 values: they round, only ever to values above every |y|."""
    p = Params(d=2, b=8, in_width=24)
    signs = signs_from_seed(1, p.d)
    keys = np.concatenate([extreme_vectors(p, signs), random_vectors(rng, p, 3000)])
    limits = fixed.thresholds(fixed.key_norm(keys, p), p)
    rounded = limits.astype(np.float32).astype(np.int64) != limits
    assert fixed._exact_dtype(p.rotated_max) is np.float32
    assert rounded.any() and np.all(limits[rounded] > p.rotated_max)
    _assert_write_path_equals_blocks(p, signs, keys)


def _accepts(d, in_width):
    try:
        Params(d=d, in_width=in_width)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("d", [2**k for k in range(1, 11)])
def test_float64_holds_every_rotation(d):
    """The write path's float64 is exact to 2**53: the widest keys Params takes stay below."""
    in_width = max(w for w in range(2, 33) if _accepts(d, w))
    p = Params(d=d, in_width=in_width)
    assert 2**24 < p.rotated_max < 2**53
    assert fixed._exact_dtype(p.rotated_max) is np.float64
