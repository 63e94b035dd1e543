"""The float reference and the quality of the fixed-point model against it (measured)."""

import numpy as np
import pytest

from axelram.golden import fixed, reference
from axelram.golden.codebook import codebook
from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed

SEED = 77


@pytest.fixture
def rng():
    print(f"seed {SEED}")
    return np.random.default_rng(SEED)


def test_rotation_is_orthogonal(rng):
    signs = signs_from_seed(4, 64)
    x = rng.normal(size=(50, 64))
    rx = reference.rotate(x, signs)
    np.testing.assert_allclose(np.linalg.norm(rx, axis=1), np.linalg.norm(x, axis=1), rtol=1e-12)
    np.testing.assert_allclose(rx @ rx.T, x @ x.T, rtol=1e-10, atol=1e-10)


def test_score_is_the_dot_product_with_the_reconstructed_key(rng):
    """The read path never inverts the rotation, yet equals q . k_hat with
    k_hat = |k| R^T c[idx]: the identity the macro rests on."""
    d, b = 64, 3
    cb = codebook(d, b)
    signs = signs_from_seed(1, d)
    keys, queries = rng.normal(size=(40, d)), rng.normal(size=(5, d))
    idx, norm = reference.write_keys(keys, signs, cb)
    hadamard = fixed.fwht(np.eye(d)) / np.sqrt(d)
    rotation = hadamard @ np.diag(signs)
    k_hat = norm[:, None] * (reference.dequantize(idx, cb) @ rotation)
    np.testing.assert_allclose(reference.scores(queries, idx, norm, signs, cb), queries @ k_hat.T,
                               rtol=1e-10, atol=1e-10)


def test_float_mse_matches_the_codebook(rng):
    """On random unit vectors (d=128, b=3) the MSE per coordinate is within 3% of D(b)/d."""
    d, b = 128, 3
    cb = codebook(d, b)
    signs = signs_from_seed(0, d)
    keys = rng.normal(size=(20000, d))
    idx, norm = reference.write_keys(keys, signs, cb)
    unit = keys / norm[:, None]
    error = reference.rotate(unit, signs) - reference.dequantize(idx, cb)
    mse = np.mean(error**2)
    print(f"MSE per coordinate {mse:.4e}, D(b)/d {cb.mse / d:.4e}, ratio {mse * d / cb.mse:.4f}")
    assert abs(mse * d / cb.mse - 1) < 0.03


def _integer(x, p):
    """Float data to the input format with one scale per tensor (largest magnitude -> in_max)."""
    scale = np.abs(x).max() / p.in_max
    return np.round(x / scale).astype(np.int64)


@pytest.mark.parametrize("spread", [False, True], ids=["gaussian", "norms-spread-100x"])
def test_fixed_point_error_is_small_against_quantization_error(spread, rng):
    """Extra score error of the fixed-point model (golden minus float reference, same integer
    inputs) is at most 5% of the quantization error (float reference minus exact q . k)."""
    p = Params()
    keys = rng.normal(size=(3000, p.d))
    if spread:
        keys *= np.exp(rng.uniform(0, np.log(100), size=(3000, 1)))
    keys, queries = _integer(keys, p), _integer(rng.normal(size=(64, p.d)), p)
    signs = signs_from_seed(0, p.d)
    idx, field = fixed.write_keys(keys, signs, p)
    golden = fixed.scores(queries, idx, field, signs, p) * 2.0**p.score_scale_log2
    ref_idx, ref_norm = reference.write_keys(keys, signs, p.cb)
    ref = reference.scores(queries, ref_idx, ref_norm, signs, p.cb)
    exact = queries.astype(np.float64) @ keys.T.astype(np.float64)
    extra = np.sqrt(np.mean((golden - ref) ** 2))
    quantization = np.sqrt(np.mean((ref - exact) ** 2))
    print(f"fixed-point RMS {extra:.4g}, quantization RMS {quantization:.4g}, "
          f"ratio {extra / quantization:.4%}")
    assert extra <= 0.05 * quantization
