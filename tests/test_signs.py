"""Sign vectors and Algorithm 1 (sign-pattern calibration)."""

import numpy as np
import pytest

from axelram.golden.codebook import codebook
from axelram.golden.signs import (
    calibrate,
    quantization_mse,
    signs_from_seed,
    signs_from_text,
    signs_to_text,
)


def test_signs_from_seed():
    s = signs_from_seed(7, 128)
    assert s.shape == (128,) and set(np.unique(s)) == {-1, 1}
    np.testing.assert_array_equal(s, signs_from_seed(7, 128))
    assert not np.array_equal(s, signs_from_seed(8, 128))


def test_text_roundtrip():
    s = signs_from_seed(3, 64)
    text = signs_to_text(s)
    assert len(text) == 64 and set(text) <= {"+", "-"}
    np.testing.assert_array_equal(signs_from_text(text), s)
    for bad in ["", "+-x", "+ -"]:
        with pytest.raises(ValueError, match="string of"):
            signs_from_text(bad)


def _layer(rng, n, d, spread):
    """Keys with a few outlier channels (what makes a sign pattern matter) and spread norms."""
    keys = rng.normal(size=(n, d))
    keys[:, :4] *= 12
    return keys * np.exp(rng.uniform(0, np.log(spread), size=(n, 1)))


def test_calibrate_picks_the_minimum(capsys):
    seed = 11
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    cb = codebook(32, 2)
    keys = _layer(rng, 64, 32, 100)
    result = calibrate(keys, cb, candidates=40)
    unit = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    mses = [quantization_mse(unit, signs_from_seed(c, 32), cb) for c in range(40)]
    assert result.seed == int(np.argmin(mses))
    assert result.mse == min(mses) and result.default_mse == mses[0]
    assert result.mse < result.default_mse  # outlier channels make the choice matter
    np.testing.assert_array_equal(result.signs, signs_from_seed(result.seed, 32))
    norms = np.linalg.norm(keys, axis=1)
    assert result.norm_ratio == pytest.approx(norms.max() / norms.min())


def test_calibrate_single_candidate_is_the_default():
    rng = np.random.default_rng(0)
    result = calibrate(rng.normal(size=(16, 16)), codebook(16, 3), candidates=1)
    assert result.seed == 0 and result.mse == result.default_mse


def test_calibrate_ignores_zero_keys_and_rejects_all_zero():
    rng = np.random.default_rng(1)
    keys = rng.normal(size=(10, 16))
    with_zero = np.concatenate([keys, np.zeros((3, 16))])
    cb = codebook(16, 3)
    a, b = calibrate(with_zero, cb, 5), calibrate(keys, cb, 5)
    assert (a.seed, a.mse, a.default_mse, a.norm_ratio) == (b.seed, b.mse, b.default_mse,
                                                            b.norm_ratio)
    with pytest.raises(ValueError, match="every calibration key is zero"):
        calibrate(np.zeros((4, 16)), cb, 5)
