"""Sign vectors of the randomized Hadamard rotation, and their calibration (Algorithm 1).

A sign vector ``s`` in {-1, +1}^d is what the macro's sign ROM holds: ``d`` bits per layer, the
hardware unchanged. :func:`signs_from_seed` derives one from a seed; :func:`calibrate` picks, for
one layer, the candidate among ``C`` seeds whose rotation quantizes that layer's calibration keys
with the lowest MSE under the fixed codebook (the paper's Algorithm 1). Candidate 0 is the
default pattern (seed 0), so the chosen pattern is never worse than the default on those keys.
"""

from dataclasses import dataclass

import numpy as np

from . import reference
from .codebook import Codebook

__all__ = ["signs_from_seed", "sign_bits", "signs_to_text", "signs_from_text",
           "quantization_mse", "Calibration", "calibrate"]


def signs_from_seed(seed: int, d: int) -> np.ndarray:
    """The sign vector of ``seed``: ``d`` values of +-1 (int8) from ``numpy.random.default_rng``."""
    bits = np.random.default_rng(seed).integers(0, 2, size=d)
    return (1 - 2 * bits).astype(np.int8)


def sign_bits(signs) -> int:
    """A sign vector as an integer: bit ``j`` set where ``signs[j]`` is -1 (the macro's
    ``signs`` port value and sign ROM, the identify reply's bits)."""
    return sum(1 << j for j, s in enumerate(np.asarray(signs)) if s < 0)


def signs_to_text(signs) -> str:
    """``"+-+..."``: coordinate 0 first."""
    return "".join("-" if s < 0 else "+" for s in np.asarray(signs))


def signs_from_text(text: str) -> np.ndarray:
    """Inverse of :func:`signs_to_text`; raises ``ValueError`` on any other character."""
    if not text or set(text) - {"+", "-"}:
        raise ValueError("a sign vector is a non-empty string of '+' and '-'")
    return np.array([-1 if c == "-" else 1 for c in text], dtype=np.int8)


def quantization_mse(unit_keys, signs, cb: Codebook) -> float:
    """Mean squared error per coordinate of quantize-dequantize after rotation, unit-vector scale.

    ``unit_keys`` are unit vectors ``(N, d)``; the error is measured in the rotated domain, where
    it equals the error of the reconstructed key (the rotation is orthogonal).
    """
    rotated = reference.rotate(unit_keys, signs)
    error = rotated - reference.dequantize(reference.quantize(rotated, cb), cb)
    return float(np.mean(error**2))


@dataclass(frozen=True)
class Calibration:
    """The result of :func:`calibrate` for one layer.

    ``norm_ratio`` is the largest over the smallest calibration key norm: the paper's predictor
    of sign sensitivity (layer-wise norm heterogeneity).
    """

    seed: int
    signs: np.ndarray
    mse: float
    default_mse: float
    norm_ratio: float


def calibrate(keys, cb: Codebook, candidates: int = 200) -> Calibration:
    """Algorithm 1 for one layer: keys ``(N, d)``, float, finite; zero keys are left out.

    Normalizes the keys to unit length, and among the sign vectors of seeds
    ``0 .. candidates - 1`` keeps the one with the lowest :func:`quantization_mse` (the first
    on ties).
    """
    keys = np.asarray(keys, dtype=np.float64)
    norms = np.linalg.norm(keys, axis=-1)
    keep = norms > 0
    if not keep.any():
        raise ValueError("every calibration key is zero")
    unit = keys[keep] / norms[keep, None]
    mses = [quantization_mse(unit, signs_from_seed(c, cb.d), cb) for c in range(candidates)]
    best = int(np.argmin(mses))
    return Calibration(
        seed=best,
        signs=signs_from_seed(best, cb.d),
        mse=mses[best],
        default_mse=mses[0],
        norm_ratio=float(norms[keep].max() / norms[keep].min()),
    )
