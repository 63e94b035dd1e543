# amaranth: UnusedElaboratable=no
"""Query table: emitted Verilog against :func:`axelram.golden.fixed.query_table`, bit for bit."""

import itertools

import cocotb
import numpy as np
import pytest
from cocotb.triggers import FallingEdge, ReadOnly

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.hdl.table import QueryTable, fill_channels
from axelram.verif import harness
from axelram.verif.tb import (
    FoldedTB,
    StreamSink,
    StreamSource,
    case,
    case_rng,
    pack_beats,
    pauses,
    unpack_fill,
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
    """Checks the table's handshakes and writes every cycle, records the cycle numbers of the
    transfers on ``i``, of ``o.valid`` and of the transfers on ``o``, and gathers each table
    from its writes.

    A beat must be taken in the ``hold``-th cycle it is on ``i`` with the input open, that is
    from its query's first beat taken to its table taken on ``o``: ``i.ready`` must be low
    in between. A table not taken must stay valid with the same bank in the next cycle, and
    nothing is written meanwhile. Table ``n`` goes to bank ``n % 2``; its writes, between the
    previous table's transfer on ``o`` and its ``o.valid``, must be ``d / L * half`` writes of
    that bank, one per beat and entry, beat ``k`` on channel ``k mod channels``.
    :attr:`tables` holds each table as ``(d, half)``.
    """

    def __init__(self, tb):
        self.tb, self.dut = tb, tb.dut
        self.i, self.o_valid, self.o, self.tables = [], [], [], []
        self.fill = [tuple(getattr(tb.dut, f"fill__{c}__{name}") for name in ("valid", "payload"))
                     for c in range(fill_channels(tb.p, tb.lanes))]
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        dut, p, lanes, beats = self.dut, self.tb.p, self.tb.lanes, self.tb.beats
        held, closed, shown, writes, was_valid = None, False, 0, {}, False
        for cycle in itertools.count():
            await FallingEdge(dut.clk)
            await ReadOnly()
            valid, ready = bool(dut.o__valid.value), bool(dut.o__ready.value)
            if held is not None:
                assert valid, f"cycle {cycle}: o.valid dropped before the table was taken"
                assert dut.o__payload.value == held, f"cycle {cycle}: o.payload changed, not taken"
            for c, (fill_valid, fill_payload) in enumerate(self.fill):
                if not fill_valid.value:
                    continue
                assert not valid, f"cycle {cycle}: a write while a table waits on o"
                values, entry, beat, bank = unpack_fill(p, lanes, fill_payload.value.to_unsigned())
                assert beat % len(self.fill) == c, f"cycle {cycle}: beat {beat} on channel {c}"
                assert bank == len(self.tables) % 2, f"cycle {cycle}: a write to bank {bank}"
                assert (beat, entry) not in writes, f"cycle {cycle}: ({beat}, {entry}) twice"
                writes[beat, entry] = values
            in_valid, in_ready = bool(dut.i__valid.value), bool(dut.i__ready.value)
            if closed:
                assert not in_ready, f"cycle {cycle}: i.ready high before the table was taken"
            elif in_valid:
                shown += 1
                assert in_ready == (shown == self.tb.hold), (
                    f"cycle {cycle}: i.ready {int(in_ready)} in the beat's cycle {shown}")
            if in_valid and in_ready:
                self.i.append(cycle)
                closed, shown = len(self.i) % beats == 0, 0
            held = dut.o__payload.value if valid and not ready else None
            if valid and not was_valid:
                assert int(dut.o__payload.value) == len(self.tables) % 2
                assert sorted(writes) == [(k, c) for k in range(beats) for c in range(p.half)], (
                    f"cycle {cycle}: table complete with writes {sorted(writes)}")
                self.tables.append(np.array([writes[k, c] for k in range(beats)
                                             for c in range(p.half)])
                                   .reshape(beats, p.half, lanes).transpose(0, 2, 1)
                                   .reshape(p.d, p.half))
                writes = {}
            if valid:
                self.o_valid.append(cycle)
                if ready:
                    self.o.append(cycle)
                    closed = False
            was_valid = valid and not ready

    def stop(self):
        self._task.cancel()


class TableTB(FoldedTB):
    def __init__(self, dut):
        super().__init__(dut)
        self.hold = self.p.half // fill_channels(self.p, self.lanes)

    def split(self, z):
        """Input beats of rotated queries: ``lanes`` coordinates each, of ``rotated_width``
        bits, a query's beats in order."""
        return pack_beats(z, self.lanes, self.p.rotated_width)

    def expect(self, tables, z):
        """The tables must be the positive halves of the golden tables of ``z``."""
        p = self.p
        np.testing.assert_array_equal(np.array(tables).reshape(-1, p.d, p.half),
                                      fixed.query_table(z, p)[..., p.half:])

    async def check(self, z, source_pauses, sink_pauses, slack: int = 0):
        """Send ``z`` as beats; exactly its tables must be written, with clean handshakes.
        ``slack`` cycles of backpressure are allowed beyond the usual timeout."""
        source = StreamSource(self.dut, "i", source_pauses)
        sink = StreamSink(self.dut, "o", sink_pauses)
        monitor = Monitor(self)
        beats = len(z) * self.beats
        await source.send(self.split(z))
        await sink.wait_for(len(z), timeout_cycles=slack + 10 * beats * self.p.half + 100)
        await self.cycles(self.latency + 5)
        sink.stop()
        monitor.stop()
        assert len(monitor.i) == beats, f"{len(monitor.i)} beats taken, {beats} sent"
        assert sink.received == [n % 2 for n in range(len(z))]
        self.expect(monitor.tables, z)


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
    taken and nothing written meanwhile, the bank on ``o`` does not change, and every table is
    right."""
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
    cycles = int(rng.integers(1, 8 * tb.beats * tb.p.half + 20))
    source = await tb.reset_in_traffic(tb.split(z), cycles, rng)
    # Two whole queries and 1 .. beats-1 beats of a third (a third whole one when L = d).
    sink = StreamSink(dut, "o", pauses(rng, True))
    await source.send(tb.split(z)[:2 * tb.beats + int(rng.integers(1, max(2, tb.beats)))])
    sink.stop()
    await tb.reset()
    await tb.check(z, pauses(rng, True), pauses(rng, True))


@cocotb.test()
async def table_timing(dut):
    """Latency and throughput, ``o`` always ready: ``o.valid`` comes ``latency`` cycles after a
    query's last beat, for one cycle; a query's beats go in one per ``hold`` cycles, and the
    next query's first beat ``hold`` cycles after the table is taken."""
    tb = TableTB(dut)
    await tb.reset()
    rng = case_rng(9)
    top, hold = tb.p.rotated_max, tb.hold
    z = rng.integers(-top, top, size=(9, tb.p.d), endpoint=True, dtype=np.int64)
    source, sink = StreamSource(dut, "i"), StreamSink(dut, "o")
    monitor = Monitor(tb)
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
    expected = [first + (tb.beats * hold + tb.latency) * q + hold * k
                for first in burst[:1] for q in range(6) for k in range(tb.beats)]
    assert burst == expected, f"beats taken at {burst}"
    tb.expect(monitor.tables, z)


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
# (16, 3, 16, *DEFAULT, 16), L = d, runs fast under Icarus.
FAST = [(2, 1, 16, *DEFAULT, 1), (16, 3, 16, *DEFAULT, 4),
        (4, 2, 8, 32, "gaussian", 1), (4, 2, 8, 32, "gaussian", 4),
        (4, 3, 16, *DEFAULT, 2),  # two channels, each beat held two cycles
        (32, 4, 16, 10, "gaussian", 8)]  # the eight-way entry multiplexer in two steps


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


# (lanes, beats, channels, hold, latency). Latency: the input register, the last entry's delay
# (half - hold), the CSD terms, the levels of the deepest product tree (b=3: 4, 6, 6 and 7
# digits, 3 levels), the selected entry (one registered step, two at b=4), the write register
# and the cycle that writes; b=2 with table_shift 0 (no rounding): 6 and 8 digits, 3 levels;
# b=4: 4 to 8 digits, 3 levels.
@pytest.mark.parametrize(("params", "lanes", "expected"), [
    (Params(d=8), None, (8, 1, 1, 4, 8)), (Params(d=8), 4, (4, 2, 2, 2, 10)),
    (Params(d=8), 1, (1, 8, 4, 1, 11)),
    (Params(d=128, b=3), 1, (1, 128, 4, 1, 11)), (Params(d=128, b=3), 2, (2, 64, 4, 1, 11)),
    (Params(d=128, b=3), 32, (32, 4, 4, 1, 11)), (Params(d=128, b=3), 128, (128, 1, 1, 4, 8)),
    (Params(d=4, b=2, in_width=8, table_width=32), None, (4, 1, 1, 2, 8)),  # table_shift 0
    (Params(d=4, b=2, in_width=8, table_width=32), 2, (2, 2, 2, 1, 9)),
    (Params(d=128, b=4), 1, (1, 128, 8, 1, 16)), (Params(d=128, b=4), 64, (64, 2, 2, 4, 13)),
])
def test_table_properties(params, lanes, expected):
    table = QueryTable(params, lanes=lanes)
    assert (table.lanes, table.beats, table.channels, table.hold, table.latency) == expected
