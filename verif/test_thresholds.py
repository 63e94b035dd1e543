# amaranth: UnusedElaboratable=no
"""Threshold unit: emitted Verilog against :func:`axelram.golden.fixed.thresholds`, bit for
bit."""

import cocotb
import numpy as np
import pytest

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.hdl.arith import csd, tree_depth
from axelram.hdl.quantizer import ThresholdUnit
from axelram.verif import harness
from axelram.verif.tb import (
    Clocked,
    StreamSink,
    StreamSource,
    case_params,
    case_rng,
    pauses,
    stream_test,
    unpack,
)
from axelram.verif.test_quantizer import tie_norms
from axelram.verif.vectors import VARIANTS, spread


class ThresholdTB(Clocked):
    def __init__(self, dut):
        super().__init__(dut)
        self.p = case_params()

    def stimulus(self, rng, count):
        """``(norm, field)``: 0, the largest norm, norms whose thresholds are exact ties, and
        random norms in every binade, with random fields."""
        p = self.p
        norms = np.concatenate([[0, 1, p.norm_max], tie_norms(rng, p),
                                spread(rng, rng.integers(0, p.norm_max, size=count,
                                                         endpoint=True), p.norm_width)])
        return norms, rng.integers(0, 1 << p.norm_field_width, size=len(norms))

    async def check(self, inputs, gaps_rng, bp_rng, gaps, backpressure):
        p = self.p
        source = StreamSource(self.dut, "i", pauses(gaps_rng, gaps))
        sink = StreamSink(self.dut, "o", pauses(bp_rng, backpressure))
        norms, fields = inputs
        await source.send(int(n) | int(f) << p.norm_width
                          for n, f in zip(norms, fields, strict=True))
        await sink.wait_for(len(norms), timeout_cycles=10 * len(norms) + 100)
        await self.cycles(20)
        sink.stop()
        count, width = p.half - 1, p.compare_width
        got = np.array([unpack(v, width, count, signed=False) for v in sink.received])
        np.testing.assert_array_equal(got.reshape(len(norms), count),
                                      fixed.thresholds(norms, p))
        np.testing.assert_array_equal([v >> (count * width) for v in sink.received], fields)


thresholds_stream = stream_test(ThresholdTB, "norms", "thresholds_stream")


@cocotb.test()
async def thresholds_reset_mid_traffic(dut):
    """Reset while norms are in flight; afterwards only new thresholds come out, all correct."""
    tb = ThresholdTB(dut)
    await tb.reset()
    rng = case_rng(7)
    norms, _ = tb.stimulus(rng, 20)
    await tb.reset_in_traffic((int(n) for n in norms),
                              int(rng.integers(2, 12)), rng)
    await tb.check(tb.stimulus(rng, 20), rng, rng, True, True)


FAST = {(16, 3, 16, "default"), (128, 4, 16, "beta"), (8, 1, 8, "default")}


@pytest.mark.parametrize(("d", "b", "in_width", "variant", "simulator"), harness.cases(
    verilator=[(d, b, 16, v) for d in (16, 128) for b in (1, 2, 3, 4)
               for v in ("default", "beta")]
    + [(d, 3, w, v) for d in (8, 128) for w in (8, 16) for v in ("frac0", "exact", "m6")]
    + [(8, 1, 8, "default")],
    icarus=[(16, 3, 16, "default")],
    slow=lambda *c: c not in FAST,
))
def test_thresholds(d, b, in_width, variant, simulator, request):
    overrides = VARIANTS[variant]
    p = Params(d=d, b=b, in_width=in_width, **overrides)
    harness.run(
        ThresholdUnit(p), test_module=__name__, case=request.node.name, simulator=simulator,
        env={"params": {"d": d, "b": b, "in_width": in_width, **overrides}, "norms": 100},
        seed=5000 + d + b + in_width,
    )


@pytest.mark.parametrize(("b", "codebook"), [(1, "gaussian"), (3, "gaussian"), (4, "beta")])
def test_thresholds_latency(b, codebook):
    """One register for the norm, one for the terms, one per level of the deepest CSD tree; one
    register for the field alone when ``b = 1``."""
    p = Params(d=128, b=b, codebook=codebook)
    digits = [len(csd(int(c))) for c in p.boundaries_fixed]
    assert ThresholdUnit(p).latency == (3 + max(map(tree_depth, digits)) if b > 1 else 1)
