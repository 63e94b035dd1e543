"""Float64 reference of the AXELRAM algorithm: what the fixed-point model approximates.

The same steps as :mod:`axelram.golden.fixed` without any rounding: the rotation
``R = H_d diag(s) / sqrt(d)``, the quantizer on the unit vector with the float codebook, the
exact norm, and the score ``|k| * sum_j (Rq)_j * c[idx_j]``. Codebook values are standardized
(a unit vector's rotated coordinate times ``sqrt(d)``), hence the ``sqrt(d)`` factors below.
"""

import numpy as np

from .codebook import Codebook
from .fixed import cells, fwht

__all__ = ["rotate", "quantize", "dequantize", "write_keys", "scores"]


def rotate(x, signs) -> np.ndarray:
    """``R x = H_d diag(s) x / sqrt(d)`` over the last axis (an orthogonal transform)."""
    x = np.asarray(x, dtype=np.float64)
    return fwht(x * signs) / np.sqrt(x.shape[-1])


def quantize(u, cb: Codebook) -> np.ndarray:
    """Indices of rotated unit-vector coordinates ``u`` (shape ``(..., d)``), same tie rule as
    the hardware (:func:`axelram.golden.fixed.cells`)."""
    half = cb.centroids.size // 2
    t = np.asarray(u, dtype=np.float64) * np.sqrt(cb.d)
    return cells(np.abs(t), cb.boundaries[half:], t < 0, half)


def dequantize(idx, cb: Codebook) -> np.ndarray:
    """Rotated unit-vector coordinates that the indices stand for: ``c[idx] / sqrt(d)``."""
    return cb.centroids[np.asarray(idx)] / np.sqrt(cb.d)


def write_keys(keys, signs, cb: Codebook) -> tuple[np.ndarray, np.ndarray]:
    """``(idx, norm)`` of keys ``(..., d)``: a zero key has norm 0 and quantizes as zero.

    The key is rotated before it is divided by its norm (the same thing, mathematically), so that
    integer keys rotate exactly and a rotated coordinate that is exactly 0 stays 0.
    """
    keys = np.asarray(keys, dtype=np.float64)
    norm = np.linalg.norm(keys, axis=-1)
    standardized = fwht(keys * signs) / np.where(norm > 0, norm, 1.0)[..., None]
    half = cb.centroids.size // 2
    return cells(np.abs(standardized), cb.boundaries[half:], standardized < 0, half), norm


def scores(queries, idx, norm, signs, cb: Codebook) -> np.ndarray:
    """Scores ``(Q, T)``: ``|k| * sum_j (Rq)_j * c[idx_j] / sqrt(d)``, approximating ``q . k``."""
    rq = rotate(queries, signs)
    return (rq @ dequantize(idx, cb).T) * np.asarray(norm)
