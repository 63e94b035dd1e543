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


@pytest.mark.parametrize("kwargs", [{}, {"norm_mantissa": 0}, {"d": 2, "b": 1, "in_width": 4},
                                    {"d": 64, "b": 8, "norm_mantissa": 5}])
def test_pack_layout_and_roundtrip(kwargs, rng):
    p = Params(**kwargs)
    idx = rng.integers(0, p.levels, size=(30, p.d))
    field = rng.integers(0, 1 << p.norm_field_width, size=30)
    rows = fixed.pack_rows(idx, field, p)
    assert rows.shape == (30, -(-p.row_width // 64))
    for r in range(30):
        as_int = sum(int(w) << (64 * i) for i, w in enumerate(rows[r]))
        expected = sum(int(v) << (j * p.b) for j, v in enumerate(idx[r]))
        expected |= int(field[r]) << (p.d * p.b)
        assert as_int == expected
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


@pytest.mark.parametrize("kwargs", [{}, {"d": 2, "b": 1, "in_width": 4}, {"d": 4, "b": 3},
                                    {"d": 64, "b": 8, "norm_mantissa": 0},
                                    {"d": 256, "b": 5, "in_width": 24, "norm_frac": 0}])
def test_write_path_equals_its_blocks(kwargs, rng):
    """``write_keys`` and ``write_rows`` (blocked, one key per column) give exactly what the
    block functions give one after the other, across block boundaries and leading axes."""
    p = Params(**kwargs)
    signs = signs_from_seed(9, p.d)
    keys = np.concatenate([extreme_vectors(p, signs), random_vectors(rng, p, 5000)])
    norm = fixed.key_norm(keys, p)
    idx = fixed.quantize(fixed.rotate(keys, signs), norm, p)
    field = fixed.encode_norm(norm, p)
    got_idx, got_field = fixed.write_keys(keys, signs, p)
    np.testing.assert_array_equal(got_idx, idx)
    np.testing.assert_array_equal(got_field, field)
    rows = fixed.write_rows(keys.reshape(2, -1, p.d), signs, p)
    np.testing.assert_array_equal(rows.reshape(len(keys), -1), fixed.pack_rows(idx, field, p))
