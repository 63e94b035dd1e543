"""Norm unit: emitted Verilog against :func:`axelram.golden.fixed.key_norm` and
:func:`axelram.golden.fixed.encode_norm`, bit for bit."""

from math import isqrt

import cocotb
import numpy as np
import pytest

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed
from axelram.hdl.norm import NormUnit
from axelram.verif import harness
from axelram.verif.tb import (
    Clocked,
    StreamSink,
    StreamSource,
    case,
    case_params,
    case_rng,
    pack,
    pauses,
)
from axelram.verif.vectors import extreme_vectors, random_vectors

# Params fields a case changes from the defaults, by the name in its test id.
VARIANTS = {
    "default": {},
    "frac0": {"norm_frac": 0},
    "exact": {"norm_mantissa": 0},
    "m6": {"norm_mantissa": 6},
}


def spread_vectors(rng, p: Params, n: int) -> np.ndarray:
    """Random vectors scaled down by a random power of two: norms over every binade."""
    return random_vectors(rng, p, n) >> rng.integers(0, p.in_width, size=(n, 1))


def spike_vectors(p: Params) -> np.ndarray:
    """One non-zero coordinate at +-2**j and +-2**j +- 1: exact norms ``|k| << norm_frac``."""
    values = sorted({s * ((1 << j) + o) for j in range(p.in_width) for o in (-1, 0, 1)
                     for s in (-1, 1)} & set(range(p.in_min, p.in_max + 1)) - {0})
    keys = np.zeros((len(values), p.d), dtype=np.int64)
    keys[:, -1] = values
    return keys


def rounding_targets(p: Params) -> list[int]:
    """Norms on the reduced float's rounding edges: each exponent's smallest and largest
    mantissa, a tie (and one either side) and the tie that carries into the next exponent."""
    if not p.norm_rounded:
        return []
    mantissa = p.norm_mantissa
    targets = []
    for e in range(1, p.exponent_max + 1):
        for m in (1 << (mantissa - 1), (1 << mantissa) - 1):
            tie = (m << e) + (1 << (e - 1))
            targets += [m << e, tie - 1, tie, tie + 1]
    return [n for n in targets if n <= p.norm_max]


def keys_with_norm(targets, p: Params) -> np.ndarray:
    """Keys whose norm is each target, where a greedy sum of ``d`` squares reaches one."""
    keys = []
    for target in targets:
        # The smallest sum of squares whose norm is the target, if it rounds down to it.
        total = -(-target * target >> 2 * p.norm_frac)
        if isqrt(total << 2 * p.norm_frac) != target:
            continue
        key = np.zeros(p.d, dtype=np.int64)
        for j in range(p.d):
            key[j] = -min(isqrt(total), -p.in_min)
            total -= int(key[j]) ** 2
        if total == 0:
            keys.append(key)
    return np.array(keys, dtype=np.int64).reshape(-1, p.d)


class NormTB(Clocked):
    def __init__(self, dut):
        super().__init__(dut)
        self.p = case_params()
        self.signs = signs_from_seed(case()["sign_seed"], self.p.d)

    def stimulus(self, rng, count):
        p = self.p
        return np.concatenate([
            extreme_vectors(p, self.signs), spike_vectors(p),
            keys_with_norm(rounding_targets(p), p),
            random_vectors(rng, p, count // 2), spread_vectors(rng, p, count - count // 2),
        ])

    async def check(self, keys, gaps_rng, bp_rng, gaps, backpressure):
        p = self.p
        source = StreamSource(self.dut, "i", pauses(gaps_rng, gaps))
        sink = StreamSink(self.dut, "o", pauses(bp_rng, backpressure))
        await source.send(pack(k, p.in_width) for k in keys)
        await sink.wait_for(len(keys), timeout_cycles=10 * len(keys) + 100)
        await self.cycles(NormUnit(p).latency + 5)
        sink.stop()
        mask = (1 << p.norm_width) - 1
        norm = fixed.key_norm(keys, p)
        np.testing.assert_array_equal([v & mask for v in sink.received], norm)
        np.testing.assert_array_equal([v >> p.norm_width for v in sink.received],
                                      fixed.encode_norm(norm, p))


@cocotb.test()
@cocotb.parametrize(gaps=[False, True], backpressure=[False, True])
async def norm_stream(dut, gaps, backpressure):
    """Extreme, directed and random keys, with idle gaps and backpressure on or off."""
    tb = NormTB(dut)
    await tb.reset()
    rng = case_rng(2 * gaps + backpressure)
    keys = tb.stimulus(rng, case()["vectors"])
    if tb.p.norm_rounded and tb.p.d >= 4:
        # The directed rounding edges must reach the unit, or the test would not cover them.
        assert len(keys_with_norm(rounding_targets(tb.p), tb.p)) > 0
    await tb.check(keys, rng, rng, gaps, backpressure)


@cocotb.test()
async def norm_reset_mid_traffic(dut):
    """Reset while keys are in flight; afterwards only new keys come out, all correct."""
    tb = NormTB(dut)
    await tb.reset()
    rng = case_rng(7)
    latency = NormUnit(tb.p).latency
    source = StreamSource(dut, "i", pauses(rng, True))
    sink = StreamSink(dut, "o", pauses(rng, True))
    sending = cocotb.start_soon(source.send(
        pack(k, tb.p.in_width) for k in random_vectors(rng, tb.p, 3 * latency)))
    await tb.cycles(int(rng.integers(latency, 2 * latency)))
    sending.cancel()
    sink.stop()
    dut.i__valid.value = 0
    await tb.reset()
    await tb.check(tb.stimulus(rng, 20), rng, rng, True, True)


@pytest.mark.parametrize(("d", "in_width", "variant", "simulator"), harness.cases(
    verilator=[(d, w, "default") for d in (2, 4, 8, 16, 32, 64, 128, 256) for w in (8, 16)]
    + [(d, w, v) for d in (16, 128) for w in (8, 16) for v in ("frac0", "exact", "m6")],
    icarus=[(2, 8, "frac0"), (4, 16, "m6"), (8, 16, "exact"), (16, 16, "default")],
    slow=lambda *c: c not in {(16, 16, "m6"), (128, 16, "default"), (2, 8, "frac0")},
))
def test_norm(d, in_width, variant, simulator, request):
    overrides = VARIANTS[variant]
    p = Params(d=d, in_width=in_width, **overrides)
    harness.run(
        NormUnit(p), test_module=__name__, case=request.node.name, simulator=simulator,
        env={"params": {"d": d, "in_width": in_width, **overrides}, "sign_seed": 1,
             "vectors": 200},
        seed=2000 + d + in_width,
    )
