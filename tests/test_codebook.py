"""Tests for axelram.golden.codebook: known values, Lloyd-Max optimality checked with integrals
written independently of the module, exact symmetry, Monte Carlo agreement, beta -> Gaussian
convergence, and argument validation."""

import math
import re

import numpy as np
import pytest

import axelram.golden.codebook as codebook_module
from axelram.golden.codebook import KINDS, Codebook, codebook, mse

BITS = range(1, 9)
BETA_DIMS = (2, 4, 16, 128, 1024)
MC_SEED = 20260402
MC_SAMPLES = 1 << 19


def _positive_half(cb: Codebook) -> tuple[np.ndarray, np.ndarray]:
    """Cell edges of y >= 0 (0, the positive boundaries, the top of the support) and the
    centroids of those cells."""
    half = 2 ** (cb.b - 1)
    top = math.inf if cb.kind == "gaussian" else math.sqrt(cb.d)
    return np.append(cb.boundaries[half - 1 :], top), cb.centroids[half:]


def _reference_mass_and_mean(edges: np.ndarray, d: int, kind: str):
    """Probability and conditional mean of each cell [edges[i], edges[i + 1]] (edges >= 0).

    Gaussian: erfc and the closed-form first moment. Beta: probability by 40-panel, 30-point
    Gauss-Legendre quadrature of cos(theta)^(d-2) on theta = arcsin(y / sqrt(d)), normalized with
    the Gamma-function constant; first moment in closed form, sqrt(d) (1 - y^2/d)^((d-1)/2) / (d-1)
    times the same constant.
    """
    lo, hi = edges[:-1], edges[1:]
    if kind == "gaussian":
        mass = np.array(
            [
                0.5 * (math.erfc(a / math.sqrt(2)) - math.erfc(b / math.sqrt(2)))
                for a, b in zip(lo, hi, strict=True)
            ]
        )
        first = (np.exp(-lo * lo / 2) - np.exp(-hi * hi / 2)) / math.sqrt(2 * math.pi)
        return mass, first / mass
    constant = math.exp(math.lgamma(d / 2) - math.lgamma((d - 1) / 2)) / math.sqrt(math.pi)
    theta = np.arcsin(np.minimum(edges / math.sqrt(d), 1.0))
    nodes, weights = np.polynomial.legendre.leggauss(30)
    panels = np.linspace(theta[:-1], theta[1:], 41, axis=1)  # (cells, 41)
    half_width = np.diff(panels, axis=1)[..., None] / 2
    points = panels[:, :-1, None] + half_width * (1 + nodes)
    mass = constant * np.sum(half_width * weights * np.cos(points) ** (d - 2), axis=(1, 2))
    cos_power = np.clip(1 - (edges / math.sqrt(d)) ** 2, 0.0, None) ** ((d - 1) / 2)
    first = constant * math.sqrt(d) * (cos_power[:-1] - cos_power[1:]) / (d - 1)
    return mass, first / mass


CASES = [
    pytest.param(kind, d, b, id=f"{kind}-d{d}-b{b}")
    for kind, dims in (("gaussian", (2, 1024)), ("beta", BETA_DIMS))
    for d in dims
    for b in BITS
]


def test_gaussian_known_values_b3():
    """Max (1960), N = 8. The table is rounded to about 4 significant digits (1.748, 2.152; the
    exact 0.500550 is printed as 0.5006), so the tolerance is 1e-4 rather than 5e-5."""
    cb = codebook(128, 3)
    np.testing.assert_allclose(
        cb.boundaries, [-1.748, -1.050, -0.5006, 0.0, 0.5006, 1.050, 1.748], rtol=0, atol=1e-4
    )
    np.testing.assert_allclose(
        cb.centroids,
        [-2.152, -1.344, -0.7560, -0.2451, 0.2451, 0.7560, 1.344, 2.152],
        rtol=0,
        atol=1e-4,
    )


@pytest.mark.parametrize("b, expected", [(1, 0.3634), (2, 0.1175), (3, 0.03455), (4, 0.009497)])
def test_gaussian_known_mse(b, expected):
    assert codebook(64, b).mse == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", (2, 4, 64, 1024))
def test_one_bit_mse_is_exact(kind, d):
    """At b=1 the centroids are +-E|Y|, so mse = 1 - E|Y|^2 in closed form."""
    if kind == "gaussian":
        mean_abs = math.sqrt(2 / math.pi)
    else:
        log_ratio = math.lgamma(d / 2) - math.lgamma((d - 1) / 2)
        mean_abs = 2 * math.sqrt(d) * math.exp(log_ratio) / (math.sqrt(math.pi) * (d - 1))
    cb = codebook(d, 1, kind)
    assert cb.centroids[1] == pytest.approx(mean_abs, rel=1e-13)
    assert cb.mse == pytest.approx(1 - mean_abs**2, rel=1e-12)


@pytest.mark.parametrize("b", BITS)
def test_gaussian_rate_distortion_bounds(b):
    """Above Shannon's bound 2^(-2b); at b=8 near Panter-Dite's sqrt(3) pi / 2 * 2^(-2b)."""
    distortion = codebook(128, b).mse
    assert distortion > 2.0 ** (-2 * b)
    if b == 8:
        assert distortion * 4.0**b == pytest.approx(math.sqrt(3) * math.pi / 2, rel=0.02)


@pytest.mark.parametrize("b", BITS)
def test_gaussian_codebook_does_not_depend_on_d(b):
    small, large = codebook(2, b), codebook(1024, b)
    assert np.array_equal(small.boundaries, large.boundaries)
    assert np.array_equal(small.centroids, large.centroids)
    assert (small.d, large.d) == (2, 1024)


@pytest.mark.parametrize("kind, d, b", CASES)
def test_lloyd_max_optimality(kind, d, b):
    cb = codebook(d, b, kind)
    midpoints = (cb.centroids[:-1] + cb.centroids[1:]) / 2
    assert np.max(np.abs(cb.boundaries - midpoints)) < 1e-10
    edges, centroids = _positive_half(cb)
    _, conditional_mean = _reference_mass_and_mean(edges, d, kind)
    assert np.max(np.abs(centroids - conditional_mean)) < 1e-10


@pytest.mark.parametrize("kind, d, b", CASES)
def test_exact_symmetry_and_order(kind, d, b):
    cb = codebook(d, b, kind)
    assert (cb.d, cb.b, cb.kind) == (d, b, kind)
    assert cb.boundaries.dtype == cb.centroids.dtype == np.float64
    assert cb.boundaries.shape == (2**b - 1,) and cb.centroids.shape == (2**b,)
    assert np.all(cb.boundaries == -cb.boundaries[::-1])
    assert np.all(cb.centroids == -cb.centroids[::-1])
    middle = cb.boundaries[2 ** (b - 1) - 1]
    assert middle == 0.0 and not np.signbit(middle)
    assert np.all(cb.centroids[:-1] < cb.boundaries) and np.all(cb.boundaries < cb.centroids[1:])
    if kind == "beta":
        assert cb.centroids[-1] < math.sqrt(d)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", (2, 16, 1024))
def test_unit_variance_consistency(kind, d):
    """E[Y^2] = 1 splits into E[Q^2] + mse because centroids are conditional means; mse falls
    with b and stays below the variance."""
    errors = [codebook(d, b, kind).mse for b in BITS]
    assert 0 < errors[-1] and np.all(np.diff([1.0, *errors]) < 0)
    for b in BITS:
        cb = codebook(d, b, kind)
        edges, centroids = _positive_half(cb)
        mass, _ = _reference_mass_and_mean(edges, d, kind)
        assert 2 * np.sum(mass * centroids**2) + cb.mse == pytest.approx(1.0, abs=1e-10)


def _sample(kind: str, d: int, rng: np.random.Generator) -> np.ndarray:
    """Standardized coordinates: N(0, 1) draws, or all coordinates of random unit vectors in R^d
    times sqrt(d) (normalized Gaussian vectors are uniform on the sphere)."""
    if kind == "gaussian":
        return rng.standard_normal(MC_SAMPLES)
    vectors = rng.standard_normal((MC_SAMPLES // d, d))
    return (math.sqrt(d) * vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).ravel()


def _assert_monte_carlo_agrees(boundaries, centroids, d, kind, seed):
    print(f"Monte Carlo seed = {seed}")
    y = _sample(kind, d, np.random.default_rng(seed))
    squared_error = (y - np.asarray(centroids)[np.searchsorted(boundaries, y)]) ** 2
    standard_error = squared_error.std() / math.sqrt(squared_error.size)
    assert abs(squared_error.mean() - mse(boundaries, centroids, d, kind)) < 5 * standard_error


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", (2, 16, 1024))
@pytest.mark.parametrize("b", (1, 3, 8))
def test_mse_matches_monte_carlo(kind, d, b):
    cb = codebook(d, b, kind)
    _assert_monte_carlo_agrees(cb.boundaries, cb.centroids, d, kind, MC_SEED + b)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("d", (4, 32))
def test_mse_helper_on_arbitrary_quantizers(kind, d):
    """The helper is not tied to symmetric optimal codebooks: an uneven quantizer, and the
    Gaussian codebook on the other law."""
    _assert_monte_carlo_agrees([-0.3, 0.4, 1.5], [-1.0, 0.1, 0.9, 2.0], d, kind, MC_SEED)
    other = codebook(d, 4, "beta" if kind == "gaussian" else "gaussian")
    _assert_monte_carlo_agrees(other.boundaries, other.centroids, d, kind, MC_SEED + 1)


@pytest.mark.parametrize("b", BITS)
def test_beta_converges_to_gaussian(b):
    """The beta codebook approaches the Gaussian one like 1/d (measured: 2.6e-3 at d=1024, b=3)."""
    gaussian = codebook(2, b)

    def distance(d):
        beta = codebook(d, b, "beta")
        return max(
            np.max(np.abs(beta.centroids - gaussian.centroids)),
            np.max(np.abs(beta.boundaries - gaussian.boundaries)),
        )

    assert 3.5 < distance(256) / distance(1024) < 4.5
    if b == 3:
        assert distance(1024) < 3e-3


@pytest.mark.parametrize("d", (32, 64))
@pytest.mark.parametrize("b", BITS)
def test_beta_beats_gaussian_on_beta_data(d, b):
    beta = codebook(d, b, "beta")
    gaussian = codebook(d, b, "gaussian")
    assert mse(gaussian.boundaries, gaussian.centroids, d, "beta") > beta.mse * (1 + 1e-6)
    assert mse(beta.boundaries, beta.centroids, d, "gaussian") > gaussian.mse * (1 + 1e-6)


@pytest.mark.parametrize("b", BITS)
def test_beta_at_d3_is_the_uniform_quantizer(b):
    """At d=3 the law is uniform on [-sqrt(3), sqrt(3)], whose Lloyd-Max quantizer is uniform.
    d=3 is not a power of two, so this goes through the unvalidated solver."""
    boundaries, centroids = codebook_module._solve_half(3, b, "beta")
    step = 2 * math.sqrt(3) / 2**b
    np.testing.assert_allclose(boundaries, step * np.arange(1, 2 ** (b - 1)), rtol=0, atol=1e-14)
    np.testing.assert_allclose(
        centroids, step * (np.arange(2 ** (b - 1)) + 0.5), rtol=0, atol=1e-14
    )


def test_codebook_is_cached_and_read_only():
    cb = codebook(128, 3, "beta")
    assert codebook(128, 3, "beta") is cb
    with pytest.raises(ValueError, match="read-only"):
        cb.centroids[0] = 0.0


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((128.0, 3), TypeError, "d must be an int, got float"),
        ((True, 3), TypeError, "d must be an int, got bool"),
        ((np.int64(128), 3), TypeError, "d must be an int, got int64"),
        ((128, 3.0), TypeError, "b must be an int, got float"),
        ((128, True), TypeError, "b must be an int, got bool"),
        ((12, 3), ValueError, "d must be a power of two >= 2, got 12"),
        ((1, 3), ValueError, "d must be a power of two >= 2, got 1"),
        ((0, 3), ValueError, "d must be a power of two >= 2, got 0"),
        ((-4, 3), ValueError, "d must be a power of two >= 2, got -4"),
        ((128, 0), ValueError, "b must be in 1..8, got 0"),
        ((128, 9), ValueError, "b must be in 1..8, got 9"),
        ((128, 3, "x"), ValueError, "kind must be one of 'gaussian', 'beta', got 'x'"),
        (
            (128, 3, "Gaussian"),
            ValueError,
            "kind must be one of 'gaussian', 'beta', got 'Gaussian'",
        ),
    ],
)
def test_codebook_validation(args, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        codebook(*args)


@pytest.mark.parametrize(
    "args, error, message",
    [
        (([0.0], [-1.0, 1.0], 12, "beta"), ValueError, "d must be a power of two >= 2, got 12"),
        (([0.0], [-1.0, 1.0], 16, "x"), ValueError, "kind must be one of"),
        (([0.0], [-1.0, 0.0, 1.0], 16, "beta"), ValueError, "need 1-D boundaries"),
        (([0.5, -0.5], [-1.0, 0.0, 1.0], 16, "beta"), ValueError, "strictly ascending"),
    ],
)
def test_mse_validation(args, error, message):
    with pytest.raises(error, match=re.escape(message)):
        mse(*args)
