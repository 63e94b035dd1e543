"""Query table: emitted Verilog against :func:`axelram.golden.fixed.query_table`, bit for bit."""

import cocotb
import numpy as np
import pytest

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed
from axelram.hdl.table import QueryTable
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
    unpack,
)
from axelram.verif.vectors import extreme_vectors, random_vectors


def tie_vector(p: Params) -> np.ndarray:
    """A rotated query whose products land exactly halfway between two table values.

    Coordinate ``j`` solves ``z * centroids_fixed[c] = 2**(s-1) mod 2**s`` for ``c = j % half``
    (``s = table_shift``), with alternating signs: both signs of a tie must round toward +inf.
    Coordinates without a solution inside the rotated range are 0.
    """
    s, z = p.table_shift, np.zeros(p.d, dtype=np.int64)
    for j in range(p.d):
        c = int(p.centroids_fixed[j % p.half])
        zeros = (c & -c).bit_length() - 1  # c = odd << zeros
        if s and zeros < s:
            mod = 1 << (s - zeros)
            tie = (mod >> 1) * pow(c >> zeros, -1, mod) % mod
            z[j] = tie * (-1) ** j if tie <= p.rotated_max else 0
    return z


def rotated_stimulus(rng, p: Params, signs, count: int) -> np.ndarray:
    """Rotated queries: golden rotations of extreme and random queries, then arbitrary ``z``
    uniform over the whole rotated range, every coordinate at ``+-rotated_max``, and ties."""
    queries = np.concatenate([extreme_vectors(p, signs), random_vectors(rng, p, count)])
    top = p.rotated_max
    return np.concatenate([
        fixed.rotate(queries, signs),
        rng.integers(-top, top, size=(count, p.d), endpoint=True, dtype=np.int64),
        np.stack([np.full(p.d, top), np.full(p.d, -top), np.where(np.arange(p.d) % 2, top, -top),
                  tie_vector(p)]),
    ])


class TableTB(Clocked):
    def __init__(self, dut):
        super().__init__(dut)
        self.p = case_params()
        self.signs = signs_from_seed(case()["sign_seed"], self.p.d)

    async def check(self, z, gaps_rng, bp_rng, gaps, backpressure):
        p = self.p
        source = StreamSource(self.dut, "i", pauses(gaps_rng, gaps))
        sink = StreamSink(self.dut, "o", pauses(bp_rng, backpressure))
        await source.send(pack(v, p.rotated_width) for v in z)
        await sink.wait_for(len(z), timeout_cycles=10 * len(z) + 100)
        await self.cycles(5)
        sink.stop()
        got = np.array([unpack(v, p.table_entry_width, p.d * p.half, signed=True)
                        for v in sink.received]).reshape(-1, p.d, p.half)
        np.testing.assert_array_equal(got, fixed.query_table(z, p)[..., p.half:])


@cocotb.test()
@cocotb.parametrize(gaps=[False, True], backpressure=[False, True])
async def table_stream(dut, gaps, backpressure):
    """Rotated queries and arbitrary extreme ``z``, with idle gaps and backpressure on or off."""
    tb = TableTB(dut)
    await tb.reset()
    rng = case_rng(2 * gaps + backpressure)
    z = rotated_stimulus(rng, tb.p, tb.signs, case()["vectors"])
    await tb.check(z, rng, rng, gaps, backpressure)


@cocotb.test()
async def table_reset_mid_traffic(dut):
    """Reset while vectors are in flight; afterwards only new tables come out, all correct."""
    tb = TableTB(dut)
    await tb.reset()
    rng = case_rng(7)
    source = StreamSource(dut, "i", pauses(rng, True))
    sink = StreamSink(dut, "o", pauses(rng, True))
    z = rotated_stimulus(rng, tb.p, tb.signs, 20)
    sending = cocotb.start_soon(source.send(pack(v, tb.p.rotated_width) for v in z))
    await tb.cycles(int(rng.integers(1, 20)))
    sending.cancel()
    sink.stop()
    dut.i__valid.value = 0
    await tb.reset()
    await tb.check(z, rng, rng, True, True)


# (d, b, in_width, table_width, codebook): every d x b x in_width, then non-default tables.
# A d=128 table takes minutes to build in Verilator: d <= 16 only outside `make regress`.
DEFAULT = (Params.table_width, Params.codebook)
SWEEP = [(d, b, w, *DEFAULT) for d in (2, 4, 8, 16, 32, 64, 128, 256) for b in (1, 2, 3, 4)
         for w in (8, 16)]
VARIANTS = [(32, 4, 16, 10, "gaussian"), (128, 3, 16, 10, "gaussian"),
            (64, 2, 16, 24, "gaussian"), (256, 3, 16, 24, "gaussian"),
            (16, 3, 8, 24, "gaussian"), (32, 3, 16, 18, "beta"), (128, 4, 8, 18, "beta"),
            (4, 2, 8, 32, "gaussian")]  # table_shift 0: the products are the entries
FAST = [(2, 1, 16, *DEFAULT), (16, 3, 16, *DEFAULT), (4, 2, 8, 32, "gaussian")]


@pytest.mark.parametrize(
    ("d", "b", "in_width", "table_width", "codebook", "simulator"),
    harness.cases(
        verilator=SWEEP + VARIANTS,
        icarus=[(d, b, w, *DEFAULT) for d in (2, 16) for b in (1, 3) for w in (8, 16)]
        + [(8, 2, 16, 10, "beta")],
        slow=lambda *case: case not in FAST,
    ))
def test_table(d, b, in_width, table_width, codebook, simulator, request):
    params = {"d": d, "b": b, "in_width": in_width, "table_width": table_width,
              "codebook": codebook}
    harness.run(
        QueryTable(Params(**params)), test_module=__name__, case=request.node.name,
        simulator=simulator, env={"params": params, "sign_seed": 1, "vectors": 100},
        seed=2000 + 10 * d + b + in_width + table_width,
    )
