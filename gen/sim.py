"""``axelram sim``: a user's keys and queries through the generated RTL (Verilator), checked
against the golden model and against exact ``q . k``."""

import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import hdl
from ..golden import fixed
from ..golden.params import Params
from ..golden.signs import signs_to_text
from ..hdl.macro import Macro
from ..verif import harness

__all__ = ["to_integers", "accuracy", "simulate"]


def to_integers(x: np.ndarray, p: Params) -> tuple[np.ndarray, float]:
    """Float data in the input format, one scale per tensor: ``x ~= ints * scale``.

    The largest magnitude maps to ``in_max``; an all-zero tensor has scale 1.
    """
    peak = float(np.abs(x).max(initial=0.0))
    scale = peak / p.in_max if peak > 0 else 1.0
    ints = np.clip(np.rint(x / scale), p.in_min, p.in_max).astype(np.int64)
    return ints, scale


def _softmax(logits):
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def accuracy(approx: np.ndarray, exact: np.ndarray, d: int) -> dict:
    """Scores ``(..., Q, N)`` against exact ``q . k``: RMS error (absolute and relative to the RMS
    of ``q . k``), Pearson correlation, the mean KL divergence of the attention distribution
    (softmax of scores / sqrt(d), exact as reference, in nats) and top-1 agreement per query."""
    error = approx - exact
    rms = float(np.sqrt(np.mean(error**2)))
    reference = _softmax(exact / np.sqrt(d))
    estimate = _softmax(approx / np.sqrt(d))
    kl = np.sum(reference * (np.log(reference + 1e-300) - np.log(estimate + 1e-300)), axis=-1)
    return {
        "rms_error": rms,
        "relative_rms_error": rms / float(np.sqrt(np.mean(exact**2))) if exact.any() else 0.0,
        "correlation": float(np.corrcoef(approx.ravel(), exact.ravel())[0, 1])
        if approx.size > 1 else 1.0,
        "softmax_kl": float(np.mean(kl)),
        "top1_agreement": float(np.mean(approx.argmax(-1) == exact.argmax(-1))),
    }


def _cache_dir(p: Params, signs, share_rotator: bool, lanes: int) -> Path:
    """Named from the configuration and the HDL's source, so a cached build is never stale; in
    ``$AXELRAM_CACHE``, else ``$XDG_CACHE_HOME/axelram``, else ``~/.cache/axelram``. (Tests set
    ``AXELRAM_CACHE``: a new ``XDG_CACHE_HOME`` also moves YoWASP's cache, and Yosys then
    compiles itself again, 50 s.)"""
    digest = hashlib.sha256(repr((p, signs_to_text(signs), share_rotator, lanes)).encode())
    for source in sorted(Path(hdl.__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    digest = digest.hexdigest()[:16]
    root = os.environ.get("AXELRAM_CACHE") or \
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "axelram"
    return Path(root) / f"sim-{digest}"


def simulate(p: Params, signs, keys: np.ndarray, queries: np.ndarray, *,
             share_rotator: bool = False, lanes: int | None = None) -> dict:
    """Run float ``keys`` ``(H, N, d)`` and ``queries`` ``(H, Q, d)`` through the RTL.

    Returns the RTL's integer scores ``(H, Q, N)``, the golden model's, the scales, the
    estimates of ``q . k`` and the timing. The Verilator build is cached per configuration.
    """
    key_ints, key_scale = to_integers(keys, p)
    query_ints, query_scale = to_integers(queries, p)
    lanes = p.d if lanes is None else lanes
    build_dir = _cache_dir(p, signs, share_rotator, lanes)
    build_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="axelram-sim-") as scratch:
        inputs, output = Path(scratch) / "inputs.npz", Path(scratch) / "scores.npz"
        np.savez(inputs, keys=key_ints, queries=query_ints)
        fields = {f: getattr(p, f) for f in p.__dataclass_fields__}
        start = time.perf_counter()
        # The directory is named from everything that determines the Verilog: reuse it.
        cached = (build_dir / "top.v").exists()
        harness.run(
            None if cached else Macro(p, lanes=lanes, signs=signs, share_rotator=share_rotator),
            test_module="user_vectors", case=build_dir.name, simulator="verilator", seed=0,
            build_dir=build_dir, quiet=True, optimize=True,
            env={"params": fields, "lanes": lanes, "inputs": str(inputs),
                 "output": str(output)},
        )
        total = time.perf_counter() - start
        with np.load(output) as result:
            rtl, seconds, cycles = result["scores"], float(result["seconds"]), int(result["cycles"])
    golden = np.stack([
        fixed.scores(q, *fixed.write_keys(k, signs, p), signs, p)
        for k, q in zip(key_ints, query_ints, strict=True)])
    scale = 2.0**p.score_scale_log2 * key_scale * query_scale
    return {"rtl": rtl, "golden": golden, "estimate": rtl * scale, "seconds": seconds,
            "cycles": cycles, "total_seconds": total, "key_scale": key_scale,
            "query_scale": query_scale}
