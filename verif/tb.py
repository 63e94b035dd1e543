"""Cocotb side of the regressions: stream drivers and monitors, clock and reset, case parameters.

Timing discipline, the same for every stream: drivers change signals just after the falling
edge, monitors sample in the ``ReadOnly`` phase before the rising edge (after every combinational
path has settled), and a transfer happens at a rising edge where ``valid & ready`` was sampled
high. A source never withdraws ``valid`` before its transfer, and never looks at ``ready`` to
decide ``valid``.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from axelram.golden.params import Params
from axelram.golden.signs import sign_bits, signs_from_seed
from axelram.hdl.table import fill_layout
from axelram.verif.vectors import extreme_vectors, random_vectors

__all__ = [
    "case", "case_params", "case_rng", "pack", "unpack", "pack_beats", "pack_words", "pauses",
    "pack_fill", "unpack_fill",
    "Clocked", "FoldedTB", "KeyQueryTB", "StreamSource", "StreamSink", "Transfers",
    "consecutive", "stream_test",
]

PERIOD_NS = 10


def case() -> dict:
    """The case description the pytest side passed in ``AXELRAM_CASE``."""
    return json.loads(os.environ["AXELRAM_CASE"])


def case_params() -> Params:
    return Params(**case()["params"])


def case_rng(salt: int = 0) -> np.random.Generator:
    """A generator seeded from the cocotb seed (printed in the log, replayable with ``seed=``)."""
    seed = cocotb.RANDOM_SEED
    cocotb.log.info("numpy seed %d (salt %d)", seed, salt)
    return np.random.default_rng([seed, salt])


def pack(values, width: int) -> int:
    """Little-endian concatenation of integers, ``width`` bits each (two's complement)."""
    mask = (1 << width) - 1
    out = 0
    for i, v in enumerate(values):
        out |= (int(v) & mask) << (i * width)
    return out


def unpack(value: int, width: int, count: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`pack`, as int64."""
    mask = (1 << width) - 1
    out = np.empty(count, dtype=np.int64)
    for i in range(count):
        v = (value >> (i * width)) & mask
        out[i] = v - (1 << width) if signed and v >> (width - 1) else v
    return out


def pack_fill(p: Params, lanes: int, values, entry: int, beat: int, bank: int) -> int:
    """A write of the query table (:func:`axelram.hdl.table.fill_layout`) as an integer."""
    layout = fill_layout(p, lanes)
    fields = {"entry": entry, "beat": beat, "bank": bank}
    return pack(values, p.table_entry_width) | sum(
        value << layout[name].offset for name, value in fields.items())


def unpack_fill(p: Params, lanes: int, word: int) -> tuple[np.ndarray, int, int, int]:
    """``(values, entry, beat, bank)`` of a write of the query table."""
    layout = fill_layout(p, lanes)
    entry, beat, bank = ((word >> layout[name].offset) & ((1 << layout[name].width) - 1)
                         for name in ("entry", "beat", "bank"))
    return unpack(word, p.table_entry_width, lanes, signed=True), entry, beat, bank


def pack_beats(vectors, lanes: int, width: int) -> list[int]:
    """The beats of ``vectors`` (shape ``(n, d)``): ``lanes`` coordinates each, packed with
    ``width`` bits a coordinate, a vector's beats in order."""
    return [pack(beat, width) for beat in vectors.reshape(-1, lanes)]


def pack_words(rows, p: Params) -> np.ndarray:
    """Rows as little-endian 64-bit words, the form :func:`fixed.pack_rows` returns."""
    words = -(-p.row_width // 64)
    return np.array([[(row >> (64 * w)) & ((1 << 64) - 1) for w in range(words)] for row in rows],
                    dtype=np.uint64).reshape(-1, words)


def pauses(rng: np.random.Generator, enabled: bool, rate: float = 0.3):
    """Endless flags: ``True`` means hold off this cycle (idle gap or backpressure)."""
    while True:
        yield bool(enabled and rng.random() < rate)


class Clocked:
    """Owns the clock and the synchronous reset of a ``dut`` with ``clk`` and ``rst``."""

    def __init__(self, dut):
        self.dut = dut
        self.clk = dut.clk
        dut.rst.value = 0
        cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())

    async def reset(self, cycles: int = 2):
        await FallingEdge(self.clk)
        self.dut.rst.value = 1
        for _ in range(cycles):
            await FallingEdge(self.clk)
        self.dut.rst.value = 0

    async def cycles(self, n: int):
        for _ in range(n):
            await FallingEdge(self.clk)

    async def reset_in_traffic(self, payloads, cycles: int, rng, backpressure: bool = True):
        """Send ``payloads`` on ``i`` with idle gaps (and backpressure on ``o`` unless told
        otherwise), and ``cycles`` cycles later reset in the middle of it: the source stops,
        ``i.valid`` drops, then :meth:`reset`. Returns the source (its pauses go on)."""
        source = StreamSource(self.dut, "i", pauses(rng, True))
        sink = StreamSink(self.dut, "o", pauses(rng, True) if backpressure else None)
        sending = cocotb.start_soon(source.send(payloads))
        await self.cycles(cycles)
        sending.cancel()
        sink.stop()
        self.dut.i__valid.value = 0
        await self.reset()
        return source

    async def edges_until(self, condition, limit: int = 10_000) -> int:
        """Rising edges until ``condition()`` holds in a ReadOnly phase."""
        for edges in range(limit):
            await ReadOnly()
            if condition():
                return edges
            await RisingEdge(self.clk)
        raise AssertionError(f"condition never held in {limit} cycles")

    async def back_to_back(self, sink, count: int):
        """Wait until ``sink`` has ``count`` items; assert one came every cycle from the first
        on (no bubble)."""
        edges = 0  # falling edges seen since the first item arrived
        while len(sink.received) < count:
            await FallingEdge(self.clk)
            edges += 1 if sink.received else 0
            assert edges < 50 * count, f"{len(sink.received)} of {count} after {edges} cycles"
        assert edges == count, f"{count} items took {edges} cycles"


class FoldedTB(Clocked):
    """Testbench of a block that takes ``lanes`` coordinates per beat: ``p``, ``lanes``,
    ``beats``, ``latency`` (``None`` unless the case gives it) and ``signs`` from the case; the
    DUT's ``signs`` port, if it has one, is driven with them."""

    def __init__(self, dut):
        super().__init__(dut)
        self.p = case_params()
        self.lanes = case()["lanes"]
        self.beats = self.p.d // self.lanes
        self.latency = case().get("latency")
        self.signs = signs_from_seed(case()["sign_seed"], self.p.d)
        if hasattr(dut, "signs"):
            dut.signs.value = sign_bits(self.signs)

    def split(self, vectors):
        """Input beats: ``lanes`` coordinates each, a vector's beats in order."""
        return pack_beats(vectors, self.lanes, self.p.in_width)


class KeyQueryTB(Clocked):
    """Testbench of a macro that stores keys and scores queries against them (the AXELRAM macro,
    the conventional baseline): keys on stream ``keys`` and queries on ``queries``, in beats of
    ``lanes`` coordinates (``d``, one beat a vector, unless given); one score per stored key on
    ``scores``, ``score_width`` bits with a ``last`` bit above them; a ``clear`` input and a
    ``count`` output (keys stored). The sources take idle gaps if ``gaps``, the sink applies
    backpressure if ``backpressure``, both drawn from ``rng`` (a :func:`case_rng` unless given).

    A subclass sets :attr:`signs` (the sign vector of the extreme vectors in :meth:`stimulus`),
    :attr:`score_width` and :attr:`count_timeout` (cycles per beat that :meth:`wait_count` waits
    by default)."""

    def __init__(self, dut, gaps=False, backpressure=False, rng=None, lanes=None):
        super().__init__(dut)
        self.p = case_params()
        self.lanes = self.p.d if lanes is None else lanes
        self.beats = self.p.d // self.lanes
        self.rng = rng if rng is not None else case_rng()
        dut.clear.value = 0
        self.keys = StreamSource(dut, "keys", pauses(self.rng, gaps))
        self.queries = StreamSource(dut, "queries", pauses(self.rng, gaps))
        self.scores = StreamSink(dut, "scores", pauses(self.rng, backpressure))

    def stimulus(self, count):
        """The extremes of :func:`extreme_vectors` (for the sign vector :attr:`signs`), then
        ``count`` random vectors."""
        return np.concatenate([extreme_vectors(self.p, self.signs),
                               random_vectors(self.rng, self.p, count)])

    def store_stimulus(self, extra: int = 0):
        """:meth:`stimulus` for ``depth + extra`` keys: a full store and ``extra`` more."""
        return self.stimulus(self.p.depth + extra - len(extreme_vectors(self.p, self.signs)))

    def pack(self, vectors):
        """The beats of ``vectors``: ``lanes`` coordinates each, a vector's beats in order."""
        return pack_beats(vectors, self.lanes, self.p.in_width)

    def groups(self):
        """Received scores split per query: a list of int64 arrays."""
        width = self.score_width
        groups, current = [], []
        for value in self.scores.received:
            score = value & ((1 << width) - 1)
            current.append(score - (1 << width) if score >> (width - 1) else score)
            if value >> width:
                groups.append(np.array(current, dtype=np.int64))
                current = []
        assert not current, "scores after the last query's `last`"
        return groups

    async def wait_count(self, count: int, timeout: int | None = None):
        """Wait until ``count`` is ``count``: at most ``timeout`` cycles per beat
        (:attr:`count_timeout` unless given)."""
        timeout = self.count_timeout if timeout is None else timeout
        for _ in range(timeout * self.beats):
            await ReadOnly()
            if int(self.dut.count.value) == count:
                return
            await FallingEdge(self.clk)
        raise AssertionError(f"count {int(self.dut.count.value)}, expected {count}")

    async def write_keys(self, keys):
        """Write ``keys`` into the empty store; returns when ``count`` shows them all."""
        await self.keys.send(self.pack(keys))
        await self.wait_count(len(keys))

    async def write_while_querying(self, keys, queries):
        """Write ``keys[:2]``; then send ``queries`` while the rest of ``keys`` are written.
        Returns when both are sent."""
        await self.keys.send(self.pack(keys[:2]))
        await self.wait_count(2)
        writer = cocotb.start_soon(self.keys.send(self.pack(keys[2:])))
        await self.queries.send(self.pack(queries))
        await writer

    async def clear(self):
        """Pulse ``clear`` for one cycle; ``count`` must be 0 within two cycles per beat."""
        await FallingEdge(self.clk)
        self.dut.clear.value = 1
        await FallingEdge(self.clk)
        self.dut.clear.value = 0
        await self.wait_count(0, timeout=2)

    async def measure_latencies(self, vector) -> dict:
        """The write and query latencies (as a ``latencies`` property gives them) measured with
        one ``vector``, written as a key, then sent as a query. An input transferred in cycle c
        shows in cycle c + latency: ``latency - 1`` edges later. The beats go in back to back
        (an idle macro takes them at once); the write latency counts from the key's last beat,
        the query latency from the query's first."""
        beats = self.pack(vector[None])
        await self.keys.send(beats)  # returns at the falling edge after the last beat's transfer
        write = await self.edges_until(lambda: int(self.dut.count.value) == 1) + 1
        await FallingEdge(self.clk)
        sending = cocotb.start_soon(self.queries.send(beats))
        while True:  # sample mid-cycle until the first beat is about to transfer
            await FallingEdge(self.clk)
            await ReadOnly()
            if self.dut.queries__valid.value and self.dut.queries__ready.value:
                break
        await RisingEdge(self.clk)  # the first beat's transfer
        edges = await self.edges_until(lambda: int(self.dut.scores__valid.value))
        await sending
        assert self.queries.sent == self.beats
        return {"write": write, "query": edges + 1}

    async def reset_while_busy(self, keys):
        """Write ``keys[:4]``; then, while the rest of ``keys`` are written and ``keys[:3]`` sent
        as queries, reset 3 to 29 cycles later: the sources stop, their ``valid`` drops, the
        sink stops, then :meth:`reset`."""
        await self.keys.send(self.pack(keys[:4]))
        writer = cocotb.start_soon(self.keys.send(self.pack(keys[4:])))
        querier = cocotb.start_soon(self.queries.send(self.pack(keys[:3])))
        await self.cycles(int(self.rng.integers(3, 30)))
        writer.cancel()
        querier.cancel()
        self.scores.stop()
        self.dut.keys__valid.value = 0
        self.dut.queries__valid.value = 0
        await self.reset()


class StreamSource:
    """Drives ``<name>__valid`` and ``<name>__payload``; payloads are integers. A stream without
    ``<name>__ready`` (``always_ready``) takes every payload at once."""

    def __init__(self, dut, name: str, pause=None):
        self.clk = dut.clk
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready", None)
        self.payload = getattr(dut, f"{name}__payload")
        self.pause = pause
        self.sent = 0
        self.valid.value = 0

    async def send(self, payloads):
        """Transfer every payload in order; returns when the last one was accepted."""
        for payload in payloads:
            await FallingEdge(self.clk)
            while self.pause is not None and next(self.pause):
                self.valid.value = 0
                await FallingEdge(self.clk)
            self.valid.value = 1
            self.payload.value = int(payload)
            await ReadOnly()
            while self.ready is not None and not self.ready.value:
                await FallingEdge(self.clk)
                await ReadOnly()
            await RisingEdge(self.clk)
            self.sent += 1
        await FallingEdge(self.clk)
        self.valid.value = 0


class StreamSink:
    """Drives ``<name>__ready`` and records each transferred ``<name>__payload`` as an integer.
    A stream without ``<name>__ready`` (``always_ready``) cannot be paused."""

    def __init__(self, dut, name: str, pause=None):
        self.clk = dut.clk
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready", None)
        self.payload = getattr(dut, f"{name}__payload")
        if self.ready is None and pause is not None:
            raise ValueError(f"stream {name} is always ready: it cannot be paused")
        self.pause = pause
        self.received = []
        if self.ready is not None:
            self.ready.value = 0
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        while True:
            await FallingEdge(self.clk)
            ready = not (self.pause is not None and next(self.pause))
            if self.ready is not None:
                self.ready.value = int(ready)
            await ReadOnly()
            if ready and self.valid.value:
                self.received.append(int(self.payload.value))

    def stop(self):
        """Stop monitoring (before a reset or at the end of a test)."""
        self._task.cancel()

    async def wait_for(self, count: int, timeout_cycles: int):
        """Wait until ``count`` payloads arrived; fail after ``timeout_cycles`` cycles."""
        for _ in range(timeout_cycles):
            if len(self.received) >= count:
                return
            await FallingEdge(self.clk)
        raise AssertionError(
            f"{len(self.received)} of {count} outputs after {timeout_cycles} cycles")


class Transfers:
    """Records the cycle numbers of the transfers on stream ``i`` and on stream ``o`` (ports
    named ``i`` and ``o`` unless given), and of the cycles where ``o.valid`` is high."""

    def __init__(self, dut, i: str = "i", o: str = "o"):
        self.clk = dut.clk
        self._i = [getattr(dut, f"{i}__{s}") for s in ("valid", "ready")]
        self._o = [getattr(dut, f"{o}__{s}") for s in ("valid", "ready")]
        self.i, self.o, self.o_valid = [], [], []
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        cycle = 0
        while True:
            await FallingEdge(self.clk)
            await ReadOnly()
            if self._i[0].value and self._i[1].value:
                self.i.append(cycle)
            if self._o[0].value:
                self.o_valid.append(cycle)
                if self._o[1].value:
                    self.o.append(cycle)
            cycle += 1

    def stop(self):
        self._task.cancel()


def consecutive(cycles, start, count):
    """Assert that ``cycles`` are ``count`` consecutive cycles from ``start``."""
    assert cycles == list(range(start, start + count)), f"transfers at cycles {cycles}"


def stream_test(tb_class, count: str, name: str, backpressure=(False, True)):
    """The cocotb test a pipelined block's module exposes as ``name``: ``tb_class(dut)`` resets,
    then checks ``tb.stimulus(rng, case()[count])`` with ``tb.check`` under idle gaps off and
    on, and ``backpressure`` off and on (only off for a block whose output is always ready)."""

    async def run(dut, gaps, backpressure):
        tb = tb_class(dut)
        await tb.reset()
        rng = case_rng(2 * gaps + backpressure)
        await tb.check(tb.stimulus(rng, case()[count]), rng, rng, gaps, backpressure)

    run.__name__ = run.__qualname__ = name
    run.__doc__ = f"{tb_class.__name__}: stimulus with idle gaps and backpressure off or on."
    cases = cocotb.parametrize(gaps=[False, True], backpressure=list(backpressure))
    return cocotb.test()(cases(run))
