"""Lloyd-Max scalar quantizer codebooks for the coordinates of a rotated unit vector.

Units are standardized: a coordinate of a rotated unit vector in R^d times sqrt(d), so that it has
unit variance (divide by sqrt(d) for the raw coordinate). Two source laws are supported:

- ``"gaussian"``: N(0, 1), the large-d limit; the codebook does not depend on d.
- ``"beta"``: the exact law of sqrt(d) * x, x one coordinate of a uniformly random unit vector in
  R^d: density proportional to (1 - y^2/d)^((d-3)/2) on [-sqrt(d), sqrt(d)].

Method: only the non-negative half is solved, then mirrored, so the codebook is exactly symmetric
and its middle boundary is exactly 0. The Lloyd-Max conditions (every boundary is the midpoint of
its neighbouring centroids, every centroid the mean of its cell) are solved by damped Newton
iteration on the boundaries, started from the (b-1)-bit solution with its centroids inserted as
extra boundaries. Cell integrals use closed forms (erfc, exp) for the Gaussian and composite
Gauss-Legendre quadrature in theta = arcsin(y / sqrt(d)) for the beta law, whose density in theta
is proportional to cos(theta)^(d-2), smooth even at d=2.

Accuracy: every boundary is the midpoint of its neighbouring centroids to 1e-13, and the cell
integrals are accurate to ~1e-15 relative, tail cells included, so every centroid is its cell's
mean to ~1e-14 (checked against 30-digit quadrature). ``mse`` is integrated, not sampled.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np

KINDS = ("gaussian", "beta")

_NEWTON_TOLERANCE = 1e-13
_MAX_NEWTON_STEPS = 100
_MAX_STEP_HALVINGS = 60
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(20)


@dataclass(frozen=True)
class Codebook:
    """Symmetric b-bit Lloyd-Max quantizer for one coordinate, in standardized units (unit
    variance; divide by sqrt(d) for a coordinate of a rotated unit vector).

    A value y is quantized to ``centroids[np.searchsorted(boundaries, y)]``. ``mse`` is the expected
    squared error E[(Y - Q(Y))^2] under the ``kind`` law, computed by integration. The optimality
    conditions hold to 1e-13 (see the module docstring). The arrays are read-only: codebooks are
    cached and shared.
    """

    d: int
    b: int
    kind: str
    boundaries: np.ndarray  # float64, shape (2**b - 1,), ascending, middle one exactly 0.0
    centroids: np.ndarray  # float64, shape (2**b,), ascending
    mse: float  # expected squared error per coordinate, standardized units


# typed=True: otherwise codebook(2, True) would be answered from the entry of codebook(2, 1).
@functools.lru_cache(maxsize=None, typed=True)
def codebook(d: int, b: int, kind: str = "gaussian") -> Codebook:
    """The b-bit Lloyd-Max codebook for ``kind`` at dimension d (a power of two >= 2)."""
    _check_d(d)
    _check_b(b)
    _check_kind(kind)
    half_boundaries, half_centroids = _solve_half(d, b, kind)
    boundaries = np.concatenate([-half_boundaries[::-1], [0.0], half_boundaries])
    centroids = np.concatenate([-half_centroids[::-1], half_centroids])
    boundaries.setflags(write=False)
    centroids.setflags(write=False)
    return Codebook(d, b, kind, boundaries, centroids, mse(boundaries, centroids, d, kind))


def mse(boundaries, centroids, d: int, kind: str) -> float:
    """Expected squared error of any scalar quantizer under the ``kind`` law at dimension d.

    ``boundaries`` (strictly ascending, length n) and ``centroids`` (length n + 1) are in
    standardized units; a value y maps to ``centroids[np.searchsorted(boundaries, y)]``.
    """
    _check_d(d)
    _check_kind(kind)
    boundaries = np.asarray(boundaries, dtype=np.float64)
    centroids = np.asarray(centroids, dtype=np.float64)
    if boundaries.ndim != 1 or centroids.shape != (boundaries.size + 1,):
        raise ValueError(
            f"need 1-D boundaries (n,) and centroids (n + 1,), got shapes {boundaries.shape} "
            f"and {centroids.shape}"
        )
    if np.any(np.diff(boundaries) <= 0):
        raise ValueError("boundaries must be strictly ascending")
    upper = _half_squared_error(boundaries, centroids, d, kind)
    lower = _half_squared_error(-boundaries[::-1], -centroids[::-1], d, kind)
    return upper + lower


def _check_d(d) -> None:
    if not isinstance(d, int) or isinstance(d, bool):
        raise TypeError(f"d must be an int, got {type(d).__name__}")
    if d < 2 or d & (d - 1):
        raise ValueError(f"d must be a power of two >= 2, got {d}")


def _check_b(b) -> None:
    if not isinstance(b, int) or isinstance(b, bool):
        raise TypeError(f"b must be an int, got {type(b).__name__}")
    if not 1 <= b <= 8:
        raise ValueError(f"b must be in 1..8, got {b}")


def _check_kind(kind) -> None:
    if kind not in KINDS:
        expected = ", ".join(repr(k) for k in KINDS)
        raise ValueError(f"kind must be one of {expected}, got {kind!r}")


def _top(d: int, kind: str) -> float:
    """Upper end of the support in standardized units."""
    return math.inf if kind == "gaussian" else math.sqrt(d)


def _density(y: np.ndarray, d: int, kind: str) -> np.ndarray:
    """Probability density at points y strictly inside the support."""
    if kind == "gaussian":
        return np.exp(-0.5 * y * y) / math.sqrt(2 * math.pi)
    scale = math.exp(math.lgamma(d / 2) - math.lgamma((d - 1) / 2)) / math.sqrt(math.pi * d)
    return scale * (1 - y * y / d) ** ((d - 3) / 2)


def _half_moments(edges: np.ndarray, d: int, kind: str) -> tuple[np.ndarray, ...]:
    """Mass, first and second moment of cells [edges[i], edges[i + 1]].

    ``edges`` ascend from 0.0 to the top of the support.
    """
    if kind == "gaussian":
        tails = np.array([_gaussian_tail_moments(y) for y in edges])
        return tuple((tails[:-1] - tails[1:]).T)
    return _beta_half_moments(edges, d)


def _gaussian_tail_moments(y: float) -> tuple[float, float, float]:
    """Integrals of 1, t, t^2 times the N(0, 1) density over [y, inf), for y >= 0."""
    if math.isinf(y):
        return 0.0, 0.0, 0.0
    survival = 0.5 * math.erfc(y / math.sqrt(2))
    density = math.exp(-0.5 * y * y) / math.sqrt(2 * math.pi)
    return survival, density, survival + y * density


def _beta_half_moments(edges: np.ndarray, d: int) -> tuple[np.ndarray, ...]:
    """Cell moments of the beta law: with y = sqrt(d) sin(theta) the density in theta is
    proportional to cos(theta)^(d-2), a peak of standard deviation about 1/sqrt(d-2). Each cell is a
    sum of 20-point Gauss-Legendre panels no wider than half that (and pi/16): all terms are
    positive, so tail cells keep their relative accuracy."""
    power = d - 2
    theta_edges = np.arcsin(np.minimum(edges / math.sqrt(d), 1.0))
    max_width = min(math.pi / 16, 0.5 / math.sqrt(power + 1))
    grid = np.linspace(0.0, math.pi / 2, math.ceil(math.pi / 2 / max_width) + 1)
    breaks = np.union1d(grid, theta_edges)
    half_width = np.diff(breaks)[:, None] / 2
    theta = (breaks[:-1, None] + half_width) + half_width * _GL_NODES
    weighted = half_width * _GL_WEIGHTS * np.cos(theta) ** power
    sine = np.sin(theta)
    panels = np.stack([weighted, sine * weighted, sine * sine * weighted]).sum(axis=-1)
    panels /= 2 * panels[0].sum()
    cells = np.add.reduceat(panels, np.searchsorted(breaks, theta_edges[:-1]), axis=1)
    return cells[0], math.sqrt(d) * cells[1], d * cells[2]


def _half_squared_error(boundaries, centroids, d: int, kind: str) -> float:
    """Squared error of the quantizer integrated over y >= 0 only."""
    top = _top(d, kind)
    inner = boundaries[(boundaries > 0) & (boundaries < top)]
    edges = np.concatenate([[0.0], inner, [top]])
    values = centroids[np.searchsorted(boundaries, edges[:-1], side="right")]
    mass, first, second = _half_moments(edges, d, kind)
    return float(np.sum(second - 2 * values * first + values * values * mass))


def _lloyd_residual(boundaries, d: int, kind: str) -> tuple[np.ndarray, ...]:
    """Centroids of the cells cut by the positive ``boundaries``, the midpoint residual
    boundary - (left centroid + right centroid) / 2, and the sub-, main and super-diagonal of its
    tridiagonal Jacobian."""
    edges = np.concatenate([[0.0], boundaries, [_top(d, kind)]])
    mass, first, _ = _half_moments(edges, d, kind)
    centroids = first / mass
    residual = boundaries - (centroids[:-1] + centroids[1:]) / 2
    density = _density(boundaries, d, kind)
    # d(centroid)/d(edge) = density(edge) * |edge - centroid| / mass, for either edge of the cell.
    left_cell = density * (boundaries - centroids[:-1]) / mass[:-1]
    right_cell = density * (centroids[1:] - boundaries) / mass[1:]
    jacobian = (-right_cell[:-1] / 2, 1 - (left_cell + right_cell) / 2, -left_cell[1:] / 2)
    return centroids, residual, jacobian


def _solve_tridiagonal(lower, main, upper, rhs) -> np.ndarray:
    """Thomas algorithm for the tridiagonal system with the given diagonals."""
    size = rhs.size
    main = main.copy()
    rhs = rhs.copy()
    for i in range(1, size):
        factor = lower[i - 1] / main[i - 1]
        main[i] -= factor * upper[i - 1]
        rhs[i] -= factor * rhs[i - 1]
    solution = np.empty(size)
    solution[-1] = rhs[-1] / main[-1]
    for i in range(size - 2, -1, -1):
        solution[i] = (rhs[i] - upper[i] * solution[i + 1]) / main[i]
    return solution


@functools.cache
def _solve_half(d: int, b: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Positive boundaries (2**(b-1) - 1,) and positive centroids (2**(b-1),) of the b-bit
    Lloyd-Max quantizer. Accepts any d >= 2 (no validation)."""
    if b == 1:
        mass, first, _ = _half_moments(np.array([0.0, _top(d, kind)]), d, kind)
        return np.empty(0), first / mass
    boundaries = np.sort(np.concatenate(_solve_half(d, b - 1, kind)))
    top = _top(d, kind)
    centroids, residual, jacobian = _lloyd_residual(boundaries, d, kind)
    for _ in range(_MAX_NEWTON_STEPS):
        if np.max(np.abs(residual)) <= _NEWTON_TOLERANCE:
            return boundaries, centroids
        step = _solve_tridiagonal(*jacobian, -residual)
        norm = np.linalg.norm(residual)
        for _ in range(_MAX_STEP_HALVINGS):
            trial = boundaries + step
            if trial[0] > 0 and trial[-1] < top and np.all(np.diff(trial) > 0):
                trial_centroids, trial_residual, trial_jacobian = _lloyd_residual(trial, d, kind)
                if np.linalg.norm(trial_residual) < norm:
                    break
            step /= 2
        else:
            raise RuntimeError(f"Lloyd-Max line search failed (d={d}, b={b}, kind={kind!r})")
        boundaries, centroids = trial, trial_centroids
        residual, jacobian = trial_residual, trial_jacobian
    raise RuntimeError(f"Lloyd-Max Newton did not converge (d={d}, b={b}, kind={kind!r})")
