# amaranth: UnusedElaboratable=no
"""Index store: appends, clear, full, and registered reads against a model of its contents.

The rows are golden packed rows (:func:`axelram.golden.fixed.pack_rows`) of seeded random keys. A
monitor checks ``count``, ``full``, ``empty``, ``single`` and ``w.ready`` against the model every
cycle, and ``read_data`` every cycle from ``read_latency`` cycles after a ``read_en`` on (the row
read, held until the next read's row). Reads address only stored rows (``< count``), the rows
whose contents the store defines, often the newest one (readable two cycles after its write);
idle cycles drive a random ``read_addr``.
"""

from collections import deque

import cocotb
import numpy as np
import pytest
from cocotb.triggers import FallingEdge, ReadOnly, with_timeout

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed
from axelram.hdl.store import IndexStore
from axelram.verif import harness
from axelram.verif.tb import (
    PERIOD_NS,
    Clocked,
    StreamSource,
    case,
    case_params,
    case_rng,
    pauses,
)
from axelram.verif.vectors import random_vectors


def row_int(words) -> int:
    """A packed row (little-endian 64-bit words) as one integer."""
    return sum(int(w) << (64 * i) for i, w in enumerate(words))


class StoreTB(Clocked):
    def __init__(self, dut):
        super().__init__(dut)
        self.p = case_params()
        self.latency = IndexStore(self.p).read_latency
        self.signs = signs_from_seed(case()["sign_seed"], self.p.d)
        dut.clear.value = 0
        dut.read_en.value = 0
        dut.read_addr.value = 0
        self.source = StreamSource(dut, "w")
        # The model: rows stored so far, those a read may ask for (both ports are registered,
        # the write twice: a row transferred in cycle t is readable by a read given from t + 2
        # on), and the RAM's contents by address.
        self.count = 0
        self.readable = 0
        self.contents = [0] * self.p.depth
        self.pending = deque()           # (cycle due, expected row) of reads in flight
        self.shown = None                # the row read_data holds since the last read came back
        self.reads_done = 0
        self.status_got, self.status_want = [], []
        self.reads_got, self.reads_want = [], []

    async def start(self):
        """Reset (the state of a previous test is unknown to the model), then monitor."""
        await self.reset()
        cocotb.start_soon(self._monitor())

    def rows(self, rng, n):
        idx, field = fixed.write_keys(random_vectors(rng, self.p, n), self.signs, self.p)
        return [row_int(words) for words in fixed.pack_rows(idx, field, self.p)]

    async def _monitor(self):
        dut, depth = self.dut, self.p.depth
        cycle = 0
        while True:
            await FallingEdge(self.clk)
            await ReadOnly()
            cycle += 1
            rst, clear = int(dut.rst.value), int(dut.clear.value)
            valid, ready = int(dut.w__valid.value), int(dut.w__ready.value)
            self.status_got.append((dut.count.value.to_unsigned(), int(dut.full.value),
                                    int(dut.empty.value), int(dut.single.value), ready))
            full = self.count == depth
            self.status_want.append((self.count, int(full), int(self.count == 0),
                                     int(self.count == 1), int(not full and not clear)))
            if self.pending and self.pending[0][0] == cycle:
                self.shown = self.pending.popleft()[1]
                self.reads_done += 1
            if self.shown is not None:
                self.reads_got.append(dut.read_data.value.to_unsigned())
                self.reads_want.append(self.shown)
            if int(dut.read_en.value) and not rst:
                addr = dut.read_addr.value.to_unsigned()
                assert addr < self.readable, f"the test read row {addr} of {self.readable}"
                self.pending.append((cycle + self.latency, self.contents[addr]))
            self.readable = self.count
            if rst:
                self.count = 0
                self.pending.clear()
                self.shown = None
            elif clear:
                self.count = 0
            elif valid and ready:
                self.contents[self.count] = dut.w__payload.value.to_unsigned()
                self.count += 1

    async def write(self, rows, gaps_rng, gaps):
        """Send ``rows`` on ``w``; fail if they are not all accepted in time."""
        self.source.pause = pauses(gaps_rng, gaps)
        await with_timeout(self.source.send(rows), (4 * len(rows) + 20) * PERIOD_NS, "ns")

    def idle_read(self, rng):
        """No read this cycle; ``read_addr`` is then a don't-care, so drive a random one."""
        self.dut.read_en.value = 0
        self.dut.read_addr.value = int(rng.integers(self.p.depth))

    async def read(self, addrs, rng, gaps):
        """Read the given stored rows in order, with random idle cycles if ``gaps``."""
        pause = pauses(rng, gaps)
        for addr in addrs:
            await FallingEdge(self.clk)
            while next(pause):
                self.idle_read(rng)
                await FallingEdge(self.clk)
            self.dut.read_en.value = 1
            self.dut.read_addr.value = int(addr)
        await FallingEdge(self.clk)
        self.idle_read(rng)

    async def random_reads(self, rng):
        """Until cancelled: read a random stored row on most cycles, often the newest one."""
        while True:
            await FallingEdge(self.clk)
            if self.readable > 0 and rng.random() < 0.7:
                newest = rng.random() < 0.3
                self.dut.read_en.value = 1
                self.dut.read_addr.value = int(self.readable - 1 if newest
                                               else rng.integers(self.readable))
            else:
                self.idle_read(rng)

    async def read_all(self, rng, gaps):
        """Read every stored row in a random order; each one is checked."""
        done = self.reads_done + len(self.pending)
        await self.read(rng.permutation(self.count), rng, gaps)
        await self.cycles(self.latency + 1)
        assert self.reads_done - done == self.count

    async def clear(self):
        await FallingEdge(self.clk)
        self.dut.clear.value = 1
        await FallingEdge(self.clk)
        self.dut.clear.value = 0

    def check(self):
        """Compare every cycle's status and every read with the model."""
        assert not self.pending, f"{len(self.pending)} reads never came back"
        np.testing.assert_array_equal(np.array(self.status_got), np.array(self.status_want))
        np.testing.assert_array_equal(np.array(self.reads_got, dtype=object),
                                      np.array(self.reads_want, dtype=object))
        cocotb.log.info("%d cycles and %d reads checked", len(self.status_got),
                        len(self.reads_got))


@cocotb.test()
@cocotb.parametrize(gaps=[False, True])
async def store_fill_clear_refill(dut, gaps):
    """Fill to full under random reads, offer rows while full, read all, clear during a refill."""
    tb = StoreTB(dut)
    await tb.start()
    rng = case_rng(gaps)
    depth = tb.p.depth

    reader = cocotb.start_soon(tb.random_reads(rng))
    await tb.write(tb.rows(rng, depth), rng, gaps)
    reader.cancel()
    tb.idle_read(rng)
    await ReadOnly()
    assert tb.count == depth and int(dut.full.value) == 1 and int(dut.w__ready.value) == 0

    # Rows offered while full wait; none is written.
    offering = cocotb.start_soon(tb.source.send(tb.rows(rng, 3)))
    await tb.cycles(10)
    offering.cancel()
    dut.w__valid.value = 0
    assert tb.source.sent == depth, f"{tb.source.sent - depth} rows accepted while full"
    await tb.read_all(rng, gaps)

    # Clear the full store, refill it, and clear it again while the refill is under way: the
    # row offered in the pulse's cycle waits, and the rows from the pulse on start at 0.
    await tb.clear()
    reader = cocotb.start_soon(tb.random_reads(rng))
    refill = cocotb.start_soon(tb.write(tb.rows(rng, depth), rng, gaps))
    await tb.cycles(int(rng.integers(2, 6)))
    await tb.clear()
    await refill
    reader.cancel()
    tb.idle_read(rng)
    await tb.read_all(rng, gaps)
    tb.check()


@cocotb.test()
async def store_reset_mid_traffic(dut):
    """Reset while rows are written and read; the store is empty after it and works again."""
    tb = StoreTB(dut)
    await tb.start()
    rng = case_rng(7)
    depth = tb.p.depth
    reader = cocotb.start_soon(tb.random_reads(rng))
    writing = cocotb.start_soon(tb.write(tb.rows(rng, depth), rng, True))
    await tb.cycles(int(rng.integers(3, depth // 2 + 4)))
    writing.cancel()
    reader.cancel()
    assert tb.count > 0
    # valid, payload, read_en and read_addr stay as they were through the reset cycles.
    await tb.reset()
    dut.w__valid.value = 0
    dut.read_en.value = 0
    await ReadOnly()
    assert tb.count == 0 and dut.count.value.to_unsigned() == 0

    reader = cocotb.start_soon(tb.random_reads(rng))
    await tb.write(tb.rows(rng, depth), rng, True)
    reader.cancel()
    tb.idle_read(rng)
    await tb.read_all(rng, True)
    tb.check()


def test_store_rejects_non_params():
    with pytest.raises(TypeError, match=r"params must be a Params, got \{'d': 8\}"):
        IndexStore({"d": 8})


@pytest.mark.parametrize(("d", "b", "depth", "simulator"), harness.cases(
    # 2100 rows: one bank of 4096-row slices (DEEP_SLICE_BITS) and the row's register hops;
    # 4100 rows: two banks (BANK_ROWS = 4096), the second one short, and the bank multiplexer.
    verilator=[(8, 3, 16), (128, 3, 64), (16, 1, 32), (16, 4, 32), (8, 3, 2100), (4, 3, 4100),
               (128, 3, 4096)],
    icarus=[(8, 3, 16), (128, 3, 64)],
    slow=lambda d, b, depth: d * depth > 2**15,
))
def test_store(d, b, depth, simulator, request):
    p = Params(d=d, b=b, depth=depth)
    harness.run(
        IndexStore(p), test_module=__name__, case=request.node.name, simulator=simulator,
        env={"params": {"d": d, "b": b, "depth": depth}, "sign_seed": 1},
        seed=3000 + d + b + depth,
    )
