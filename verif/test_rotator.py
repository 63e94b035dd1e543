"""Rotator: emitted Verilog against :func:`axelram.golden.fixed.rotate`, bit for bit."""

import cocotb
import numpy as np
import pytest

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.golden.signs import sign_bits, signs_from_seed
from axelram.hdl.rotator import Rotator
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
    stream_test,
    unpack,
)
from axelram.verif.vectors import extreme_vectors, random_vectors


class RotatorTB(Clocked):
    def __init__(self, dut):
        super().__init__(dut)
        self.p = case_params()
        self.signs = signs_from_seed(case()["sign_seed"], self.p.d)
        dut.signs.value = sign_bits(self.signs)

    def stimulus(self, rng, count):
        return np.concatenate([extreme_vectors(self.p, self.signs),
                               random_vectors(rng, self.p, count)])

    async def check(self, vectors, gaps_rng, bp_rng, gaps, backpressure):
        p = self.p
        source = StreamSource(self.dut, "i", pauses(gaps_rng, gaps))
        sink = StreamSink(self.dut, "o", pauses(bp_rng, backpressure))
        await source.send(pack(v, p.in_width) for v in vectors)
        await sink.wait_for(len(vectors), timeout_cycles=10 * len(vectors) + 100)
        await self.cycles(p.log2_d + 5)
        sink.stop()
        got = np.array([unpack(v, p.rotated_width, p.d, signed=True) for v in sink.received])
        np.testing.assert_array_equal(got, fixed.rotate(vectors, self.signs))


rotator_stream = stream_test(RotatorTB, "vectors", "rotator_stream")


@cocotb.test()
async def rotator_reset_mid_traffic(dut):
    """Reset while vectors are in flight; afterwards only new vectors come out, all correct."""
    tb = RotatorTB(dut)
    await tb.reset()
    rng = case_rng(7)
    await tb.reset_in_traffic((pack(v, tb.p.in_width) for v in random_vectors(rng, tb.p, 50)),
                              int(rng.integers(tb.p.log2_d, tb.p.log2_d + 20)), rng)
    await tb.check(tb.stimulus(rng, 20), rng, rng, True, True)


@pytest.mark.parametrize(("d", "in_width", "simulator"), harness.cases(
    verilator=[(d, w) for d in (2, 4, 8, 16, 32, 64, 128, 256) for w in (8, 16)],
    icarus=[(d, w) for d in (2, 8, 32) for w in (8, 16)],
    slow=lambda d, w: (d, w) not in {(2, 8), (8, 16), (32, 8)},
))
def test_rotator(d, in_width, simulator, request):
    p = Params(d=d, in_width=in_width)
    harness.run(
        Rotator(p), test_module=__name__, case=request.node.name, simulator=simulator,
        env={"params": {"d": d, "in_width": in_width}, "sign_seed": 1, "vectors": 200},
        seed=1000 + d + in_width,
    )
