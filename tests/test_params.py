"""Params: validation, the width helpers, and the claim that no value overflows its width."""

from fractions import Fraction
from math import floor, isqrt

import numpy as np
import pytest

from axelram.golden import fixed
from axelram.golden.params import Params, float_encode, round_shift, signed_width, unsigned_width
from axelram.golden.signs import signs_from_seed
from axelram.verif.vectors import extreme_vectors, random_vectors


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"d": 12}, ValueError, r"d must be a power of two in 2\.\.1024, got 12"),
    ({"d": 1}, ValueError, r"d must be a power of two"),
    ({"d": 2048}, ValueError, r"d must be a power of two"),
    ({"d": 128.0}, TypeError, r"d must be an integer"),
    ({"d": True}, TypeError, r"d must be an integer"),
    ({"b": 0}, ValueError, r"b must be in 1\.\.8, got 0"),
    ({"b": 9}, ValueError, r"b must be in 1\.\.8, got 9"),
    ({"in_width": 1}, ValueError, r"in_width must be in 2\.\.32, got 1"),
    ({"depth": 0}, ValueError, r"depth must be in 1\.\.16777216, got 0"),
    ({"codebook": "uniform"}, ValueError, r"codebook must be one of gaussian, beta"),
    ({"norm_frac": 17}, ValueError, r"norm_frac must be in 0\.\.16"),
    ({"table_width": 1}, ValueError, r"table_width must be in 2\.\.48"),
    ({"norm_mantissa": -1}, ValueError, r"norm_mantissa must be in 0\.\.32"),
    ({"b": 8, "codebook_frac": 4}, ValueError, r"codebook_frac must be larger"),
    ({"d": 1024, "in_width": 32, "norm_frac": 16}, ValueError, r"at most 63 bits"),
    # The norm square fits, but not once shifted by 2 norm_frac for the square root.
    ({"d": 1024, "in_width": 27}, ValueError, r"needs a 71-bit square-root radicand"),
    ({"d": 16, "in_width": 29, "norm_frac": 16}, ValueError, r"93-bit square-root radicand"),
])
def test_invalid(kwargs, error, match):
    with pytest.raises(error, match=match):
        Params(**kwargs)


def test_defaults_match_the_paper_row():
    p = Params()
    assert (p.d, p.b, p.depth) == (128, 3, 4096)
    assert p.row_width == 400  # 3 * 128 index bits + a 16-bit norm, as in the paper
    assert p.norm_field_width == 16


def test_width_helpers_exhaustive():
    for lo in range(-70, 1):
        for hi in range(0, 70):
            width = signed_width(lo, hi)
            assert -(1 << (width - 1)) <= lo and hi < (1 << (width - 1))
            assert width == 1 or not (-(1 << (width - 2)) <= lo and hi < (1 << (width - 2)))
    for hi in range(0, 300):
        width = unsigned_width(hi)
        assert hi < (1 << width) and (width == 1 or hi >= (1 << (width - 1)))


def test_round_shift_is_round_half_up():
    x = np.arange(-600, 600, dtype=np.int64)
    for shift in range(0, 6):
        expected = [floor(Fraction(int(v), 1 << shift) + Fraction(1, 2)) for v in x]
        np.testing.assert_array_equal(round_shift(x, shift), expected)


@pytest.mark.parametrize("mantissa", [1, 2, 3, 5, 8])
def test_float_encode_exhaustive(mantissa):
    n = np.arange(0, 5000, dtype=np.int64)
    m, e = float_encode(n, mantissa)
    assert np.all(m < (1 << mantissa))
    assert np.all((e == 0) | (m >= (1 << (mantissa - 1))))  # normalized unless exact
    for value, mv, ev in zip(n, m, e, strict=True):
        # Nearest value with `mantissa` significant bits, ties up.
        e_ref = max(int(value).bit_length() - mantissa, 0)
        expected = floor(Fraction(int(value), 1 << e_ref) + Fraction(1, 2)) << e_ref
        assert int(mv) << int(ev) == expected


def _stages(k, signs, p: Params) -> dict:
    """Every intermediate value of the write and read paths for keys/queries ``k``."""
    x = fixed.sign_flip(k, signs)
    values = {"sign flip": x}
    for s in range(1, p.log2_d + 1):
        blocks = x.reshape(*x.shape[:-1], p.d >> s, 1 << s)
        values[f"butterfly stage {s}"] = fixed.fwht(blocks).reshape(x.shape)
    y = values[f"butterfly stage {p.log2_d}"]
    norm = fixed.key_norm(k, p)
    table = fixed.query_table(y, p)
    idx = fixed.quantize(y, norm, p)
    field = fixed.encode_norm(norm, p)
    total = np.take_along_axis(table, idx[..., None], -1)[..., 0].sum(-1)
    values.update({
        "input": k, "rotated coordinate": y, "norm squared": fixed.norm_squared(k), "norm": norm,
        "stored norm field": field,
        "threshold product": p.boundaries_fixed * norm[..., None],
        "quantizer comparison": np.concatenate([np.abs(y), fixed.thresholds(norm, p)], axis=-1),
        "query-table product": y[..., None] * p.centroids_fixed,
        "query-table entry": table, "adder-tree sum": total,
        "score": total * fixed.decode_norm(field, p),
    })
    return values


EXTREME_CASES = [
    {"d": 2, "b": 1, "in_width": 2}, {"d": 2, "b": 8, "in_width": 8},
    {"d": 8, "b": 2, "in_width": 8}, {"d": 16, "b": 4, "in_width": 16, "norm_mantissa": 0},
    {"d": 128, "b": 3, "in_width": 16}, {"d": 128, "b": 3, "in_width": 8, "table_width": 10},
    {"d": 256, "b": 4, "in_width": 24, "norm_frac": 0},
    {"d": 1024, "b": 8, "in_width": 20, "norm_mantissa": 6},
]


@pytest.mark.parametrize("kwargs", EXTREME_CASES, ids=lambda k: "-".join(map(str, k.values())))
def test_no_value_overflows_its_width(kwargs):
    """Extreme vectors reach the edges; every stage's values must fit the width Params gives."""
    p = Params(**kwargs)
    seed = 20261129
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    signs = signs_from_seed(3, p.d)
    k = np.concatenate([extreme_vectors(p, signs), random_vectors(rng, p, 200)])
    unsigned = {"norm squared", "norm", "stored norm field", "threshold product",
                "quantizer comparison"}
    for name, values in _stages(k, signs, p).items():
        if values.size == 0:  # b=1 has no threshold
            continue
        width = p.widths[name]
        if name in unsigned:
            assert values.min() >= 0 and values.max() < (1 << width), name
        else:
            assert -(1 << (width - 1)) <= values.min() and values.max() < (1 << (width - 1)), name


@pytest.mark.parametrize("kwargs", EXTREME_CASES, ids=lambda k: "-".join(map(str, k.values())))
def test_bounds_are_reached(kwargs):
    """The widths are tight: the extreme vectors reach each stage's bound exactly.

    Widths hold for any sign vector (it may be loaded at run time); the all-negating one lets
    the all-minimum key reach ``+d * 2**(in_width-1)``.
    """
    p = Params(**kwargs)
    signs = -np.ones(p.d, dtype=np.int8)
    values = _stages(extreme_vectors(p, signs), signs, p)
    assert np.abs(values["rotated coordinate"]).max() == p.rotated_max
    assert values["norm squared"].max() == p.norm_sq_max
    assert values["norm"].max() == p.norm_max == isqrt(p.norm_sq_max << 2 * p.norm_frac)
    assert np.abs(values["query-table entry"]).max() == p.table_max


def test_score_scale():
    """``score * 2**score_scale_log2`` approximates q . k: exact codebook aside, 1% on average."""
    p = Params(b=8, norm_mantissa=0)
    rng = np.random.default_rng(5)
    print("seed 5")
    signs = signs_from_seed(0, p.d)
    keys = rng.integers(-20000, 20000, size=(300, p.d))
    queries = rng.integers(-20000, 20000, size=(4, p.d))
    idx, field = fixed.write_keys(keys, signs, p)
    approx = fixed.scores(queries, idx, field, signs, p) * 2.0**p.score_scale_log2
    exact = queries.astype(float) @ keys.T.astype(float)
    scale = np.linalg.norm(queries, axis=1)[:, None] * np.linalg.norm(keys, axis=1)
    assert np.mean(np.abs(approx - exact) / scale) < 0.01
