# amaranth: UnusedElaboratable=no
"""Query table: emitted Verilog against :func:`axelram.golden.fixed.query_table`, bit for bit."""

import itertools

import cocotb
import numpy as np
import pytest
from cocotb.triggers import FallingEdge, ReadOnly

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.hdl.table import QueryTable
from axelram.verif import harness
from axelram.verif.tb import (
    BAD_LANES,
    FoldedTB,
    StreamSink,
    StreamSource,
    case,
    case_rng,
    pack_beats,
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


def long_holds(rng, first: int):
    """Backpressure in long runs: ``o.ready`` low for ``first`` cycles, then alternately high
    for 1 to 8 cycles and low for 1 to 400."""
    yield from itertools.repeat(True, first)
    while True:
        yield from itertools.repeat(False, int(rng.integers(1, 9)))
        yield from itertools.repeat(True, int(rng.integers(1, 401)))


class Monitor:
    """Checks the table's handshake every cycle and records cycle numbers of the transfers on
    ``i``, of ``o.valid`` and of the transfers on ``o``.

    ``i.ready`` must be low exactly from the cycle after a query's last beat (of ``beats``) is
    taken to the cycle its table is taken on ``o``, and a table not taken must stay valid and
    unchanged in the next cycle.
    """

    def __init__(self, dut, beats: int):
        self.dut, self.beats = dut, beats
        self.i, self.o_valid, self.o = [], [], []
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        dut, held, closed = self.dut, None, False
        for cycle in itertools.count():
            await FallingEdge(dut.clk)
            await ReadOnly()
            valid, ready = bool(dut.o__valid.value), bool(dut.o__ready.value)
            if held is not None:
                assert valid, f"cycle {cycle}: o.valid dropped before the table was taken"
                assert dut.o__payload.value == held, f"cycle {cycle}: o.payload changed, not taken"
            assert bool(dut.i__ready.value) == (not closed), (
                f"cycle {cycle}: i.ready {dut.i__ready.value}, a query's table "
                f"{'not yet' if closed else 'already'} taken")
            held = dut.o__payload.value if valid and not ready else None
            if dut.i__valid.value and dut.i__ready.value:
                self.i.append(cycle)
                closed = len(self.i) % self.beats == 0
            if valid:
                self.o_valid.append(cycle)
                if ready:
                    self.o.append(cycle)
                    closed = False

    def stop(self):
        self._task.cancel()


class TableTB(FoldedTB):
    def split(self, z):
        """Input beats of rotated queries: ``lanes`` coordinates of ``rotated_width`` bits
        each, a query's beats in order."""
        return pack_beats(z, self.lanes, self.p.rotated_width)

    def join(self, received):
        """The received positive half-tables, shape ``(n, d, half)``."""
        p = self.p
        return np.array([unpack(v, p.table_entry_width, p.d * p.half, signed=True)
                         for v in received]).reshape(-1, p.d, p.half)

    def expect(self, received, z):
        """The received tables must be the positive halves of the golden tables of ``z``."""
        p = self.p
        np.testing.assert_array_equal(self.join(received), fixed.query_table(z, p)[..., p.half:])

    async def check(self, z, source_pauses, sink_pauses, slack: int = 0):
        """Send ``z`` as beats; exactly its tables must come out, with a clean handshake.
        ``slack`` cycles of backpressure are allowed beyond the usual timeout."""
        source = StreamSource(self.dut, "i", source_pauses)
        sink = StreamSink(self.dut, "o", sink_pauses)
        monitor = Monitor(self.dut, self.beats)
        beats = len(z) * self.beats
        await source.send(self.split(z))
        await sink.wait_for(len(z), timeout_cycles=slack + 10 * beats + 100)
        await self.cycles(self.latency + 5)
        sink.stop()
        monitor.stop()
        assert len(monitor.i) == beats, f"{len(monitor.i)} beats taken, {beats} sent"
        self.expect(sink.received, z)


@cocotb.test()
@cocotb.parametrize(gaps=[False, True], backpressure=[False, True])
async def table_stream(dut, gaps, backpressure):
    """Rotated queries and arbitrary extreme ``z`` as beats, with idle gaps and backpressure on
    or off."""
    tb = TableTB(dut)
    await tb.reset()
    rng = case_rng(2 * gaps + backpressure)
    z = rotated_stimulus(rng, tb.p, tb.signs, case()["vectors"])
    await tb.check(z, pauses(rng, gaps), pauses(rng, backpressure))


@cocotb.test()
@cocotb.parametrize(gaps=[False, True])
async def table_long_holds(dut, gaps):
    """``o`` held not-ready for thousands of cycles, then for up to 400 at a time: no beat is
    taken meanwhile, the held table does not change, and every table is right."""
    tb = TableTB(dut)
    await tb.reset()
    rng = case_rng(4 + gaps)
    z = rotated_stimulus(rng, tb.p, tb.signs, 4)
    first = 3000
    await tb.check(z, pauses(rng, gaps), long_holds(rng, first), first + 410 * len(z))


@cocotb.test()
async def table_reset_mid_traffic(dut):
    """Reset while beats are in flight, at a random cycle and after part of a query's beats;
    afterwards the beat count restarts and only new tables come out, all correct."""
    tb = TableTB(dut)
    await tb.reset()
    rng = case_rng(7)
    z = rotated_stimulus(rng, tb.p, tb.signs, 20)
    source = await tb.reset_in_traffic(tb.split(z), int(rng.integers(1, 8 * tb.beats + 20)),
                                       rng)
    # Two whole queries and 1 .. beats-1 beats of a third (a third whole one when L = d).
    sink = StreamSink(dut, "o", pauses(rng, True))
    await source.send(tb.split(z)[:2 * tb.beats + int(rng.integers(1, max(2, tb.beats)))])
    sink.stop()
    await tb.reset()
    await tb.check(z, pauses(rng, True), pauses(rng, True))


@cocotb.test()
async def table_timing(dut):
    """Latency and throughput, ``o`` always ready: ``o.valid`` comes ``latency`` cycles after a
    query's last beat, for one cycle; a query's beats go in one per cycle, and the next query's
    first beat the cycle after the table is taken."""
    tb = TableTB(dut)
    await tb.reset()
    rng = case_rng(9)
    top = tb.p.rotated_max
    z = rng.integers(-top, top, size=(9, tb.p.d), endpoint=True, dtype=np.int64)
    source, sink = StreamSource(dut, "i"), StreamSink(dut, "o")
    monitor = Monitor(dut, tb.beats)
    for query in z[:3]:  # one at a time
        await source.send(tb.split(query[None]))
        await tb.cycles(tb.latency + 3)
    await source.send(tb.split(z[3:]))  # back to back
    await tb.cycles(tb.latency + 3)
    monitor.stop()
    sink.stop()
    last = monitor.i[tb.beats - 1::tb.beats]
    assert monitor.o_valid == [cycle + tb.latency for cycle in last], (
        f"last beats at {last}, o.valid at {monitor.o_valid}, latency {tb.latency}")
    assert monitor.o == monitor.o_valid
    burst = monitor.i[3 * tb.beats:]
    expected = [first + (tb.beats + tb.latency) * q + k
                for first in burst[:1] for q in range(6) for k in range(tb.beats)]
    assert burst == expected, f"beats taken at {burst}"
    tb.expect(sink.received, z)


# (d, b, in_width, table_width, codebook, lanes): every d x b x in_width unfolded, the lanes of
# every d at b = 1 and 3, then non-default tables unfolded and folded.
# A d=128 table takes minutes to build in Verilator: d <= 16 only outside `make regress`.
DEFAULT = (Params.table_width, Params.codebook)
SWEEP = [(d, b, w, *DEFAULT, d) for d in (2, 4, 8, 16, 32, 64, 128, 256) for b in (1, 2, 3, 4)
         for w in (8, 16)]
FOLDED = [(d, b, 16, *DEFAULT, lanes) for d in (2, 4, 8, 16, 32, 64, 128, 256) for b in (1, 3)
          for lanes in harness.lanes_of(d) if lanes < d]
VARIANTS = [(*v, lanes) for v in [
    (32, 4, 16, 10, "gaussian"), (128, 3, 16, 10, "gaussian"), (64, 2, 16, 24, "gaussian"),
    (256, 3, 16, 24, "gaussian"), (16, 3, 8, 24, "gaussian"), (32, 3, 16, 18, "beta"),
    (128, 4, 8, 18, "beta"),
    (4, 2, 8, 32, "gaussian"),  # table_shift 0: the products are the entries
] for lanes in (v[0] // 4, v[0])]
FAST = [(2, 1, 16, *DEFAULT, 1), (16, 3, 16, *DEFAULT, 4), (16, 3, 16, *DEFAULT, 16),
        (4, 2, 8, 32, "gaussian", 1), (4, 2, 8, 32, "gaussian", 4)]


@pytest.mark.parametrize(
    ("d", "b", "in_width", "table_width", "codebook", "lanes", "simulator"),
    harness.cases(
        verilator=SWEEP + FOLDED + VARIANTS,
        icarus=[(d, b, w, *DEFAULT, lanes) for d in (2, 16) for b in (1, 3) for w in (8, 16)
                for lanes in (1, d)] + [(8, 2, 16, 10, "beta", 2)],
        slow=lambda *case: case not in FAST,
    ))
def test_table(d, b, in_width, table_width, codebook, lanes, simulator, request):
    params = {"d": d, "b": b, "in_width": in_width, "table_width": table_width,
              "codebook": codebook}
    table = QueryTable(Params(**params), lanes=lanes)
    harness.run(
        table, test_module=__name__, case=request.node.name, simulator=simulator,
        env={"params": params, "lanes": lanes, "latency": table.latency, "sign_seed": 1,
             "vectors": 100 if d // lanes <= 16 else 25},
        seed=2000 + 10 * d + b + in_width + table_width + lanes,
    )


@pytest.mark.parametrize(("lanes", "error", "message"), BAD_LANES)
def test_table_arguments(lanes, error, message):
    with pytest.raises(error, match=message):
        QueryTable(Params(d=8), lanes=lanes)


def test_table_params_type():
    with pytest.raises(TypeError, match=r"params must be a Params, got 8"):
        QueryTable(8)


# Latency: the CSD terms, the levels of the deepest product tree (b=3: 4, 6, 6 and 7 digits, 3
# levels), the fill register; b=2 with table_shift 0 (no rounding): 6 and 8 digits, 3 levels.
@pytest.mark.parametrize(("params", "lanes", "expected"), [
    (Params(d=8), None, (8, 1, 5)), (Params(d=8), 1, (1, 8, 5)),
    (Params(d=128, b=3), 1, (1, 128, 5)), (Params(d=128, b=3), 2, (2, 64, 5)),
    (Params(d=128, b=3), 32, (32, 4, 5)), (Params(d=128, b=3), 128, (128, 1, 5)),
    (Params(d=4, b=2, in_width=8, table_width=32), None, (4, 1, 5)),  # table_shift 0
    (Params(d=4, b=2, in_width=8, table_width=32), 2, (2, 2, 5)),
])
def test_table_properties(params, lanes, expected):
    table = QueryTable(params, lanes=lanes)
    assert (table.lanes, table.beats, table.latency) == expected
