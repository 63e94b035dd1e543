# amaranth: UnusedElaboratable=no
"""Norm unit: emitted Verilog against :func:`axelram.golden.fixed.key_norm` and
:func:`axelram.golden.fixed.encode_norm`, bit for bit, with every key sent as beats of ``lanes``
coordinates."""

from math import isqrt

import cocotb
import numpy as np
import pytest
from cocotb.triggers import FallingEdge, ReadOnly

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.hdl.norm import NormUnit
from axelram.verif import harness
from axelram.verif.tb import (
    FoldedTB,
    StreamSink,
    StreamSource,
    case,
    case_rng,
    pauses,
)
from axelram.verif.vectors import VARIANTS, extreme_vectors, random_vectors, spread


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


def stalls(rng, enabled: bool, hold: int, delay: int = 0):
    """Endless pause flags: ``delay`` of :func:`pauses`, then ``hold`` pauses in a row and
    ``3 * hold`` of :func:`pauses`, again and again. A hold on ``o`` outlasts the time the input
    needs to fill the unit, so ``i.ready`` drops."""
    flags = pauses(rng, enabled)
    for _ in range(delay):
        yield next(flags)
    while True:
        yield from [enabled] * hold
        for _ in range(3 * hold):
            yield next(flags)


class Handshakes:
    """Records, by cycle number, the transfers on ``i``, the cycles where ``i.valid`` waits for
    ``i.ready``, and the cycles where ``o.valid`` is high."""

    def __init__(self, dut):
        self.dut = dut
        self.transfers, self.refused, self.o_valid = [], [], []
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        cycle = 0
        while True:
            await FallingEdge(self.dut.clk)
            await ReadOnly()
            if self.dut.i__valid.value:
                (self.transfers if self.dut.i__ready.value else self.refused).append(cycle)
            if self.dut.o__valid.value:
                self.o_valid.append(cycle)
            cycle += 1

    def stop(self):
        self._task.cancel()


class NormTB(FoldedTB):
    def __init__(self, dut):
        super().__init__(dut)
        # Long enough for the input to fill the unit with a key in every stage that holds one.
        self.hold = 2 * (self.latency + 4 * self.beats)

    def stimulus(self, rng, count):
        p = self.p
        return np.concatenate([
            extreme_vectors(p, self.signs), spike_vectors(p),
            keys_with_norm(rounding_targets(p), p),
            random_vectors(rng, p, count // 2),
            spread(rng, random_vectors(rng, p, count - count // 2), p.in_width),
        ])

    def expect(self, received, keys):
        p = self.p
        mask = (1 << p.norm_width) - 1
        norm = fixed.key_norm(keys, p)
        np.testing.assert_array_equal([v & mask for v in received], norm)
        np.testing.assert_array_equal([v >> p.norm_width for v in received],
                                      fixed.encode_norm(norm, p))

    async def check(self, keys, gaps_rng, bp_rng, gaps, backpressure):
        source = StreamSource(self.dut, "i", stalls(gaps_rng, gaps, self.hold, 2 * self.hold))
        sink = StreamSink(self.dut, "o", stalls(bp_rng, backpressure, self.hold))
        handshakes = Handshakes(self.dut)
        await source.send(self.split(keys))
        await sink.wait_for(len(keys), timeout_cycles=20 * len(keys) * self.beats + self.hold)
        await self.cycles(self.latency + self.beats + 5)
        sink.stop()
        handshakes.stop()
        self.expect(sink.received, keys)
        # Backpressure fills the unit: it must have refused input (and lost nothing).
        assert bool(handshakes.refused) == backpressure, f"i refused in {handshakes.refused}"


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
    """Reset while keys are in flight, in the middle of a key's beats when a key has several;
    afterwards the beats count from the new first key: only new keys come out, all correct."""
    tb = NormTB(dut)
    await tb.reset()
    rng = case_rng(7)
    source = StreamSource(dut, "i", pauses(rng, True))
    sink = StreamSink(dut, "o", pauses(rng, True))
    sending = cocotb.start_soon(source.send(
        tb.split(random_vectors(rng, tb.p, 3 * tb.latency))))
    await tb.cycles(int(rng.integers(tb.latency, 2 * tb.latency + 3 * tb.beats)))
    for _ in range(10 * tb.beats):
        if source.sent % tb.beats or tb.beats == 1:
            break
        await tb.cycles(1)
    assert source.sent % tb.beats or tb.beats == 1, "the reset would not split a key"
    sending.cancel()
    sink.stop()
    dut.i__valid.value = 0
    await tb.reset()
    await tb.check(tb.stimulus(rng, 20), rng, rng, True, True)


@cocotb.test()
async def norm_full_rate(dut):
    """Keys back to back: one beat per cycle, never refused; each key's ``o.valid`` exactly
    ``latency`` cycles after its last beat, for one cycle."""
    tb = NormTB(dut)
    await tb.reset()
    keys = random_vectors(case_rng(9), tb.p, 12)
    source, sink = StreamSource(dut, "i"), StreamSink(dut, "o")
    handshakes = Handshakes(dut)
    await source.send(tb.split(keys))
    await tb.cycles(tb.latency + 5)
    handshakes.stop()
    sink.stop()
    first, count = handshakes.transfers[0], len(keys) * tb.beats
    assert handshakes.transfers == list(range(first, first + count)), handshakes.transfers
    assert not handshakes.refused, f"i refused in {handshakes.refused}"
    last_beats = handshakes.transfers[tb.beats - 1::tb.beats]
    assert handshakes.o_valid == [c + tb.latency for c in last_beats], handshakes.o_valid
    tb.expect(sink.received, keys)


DIMS = (2, 4, 8, 16, 32, 64, 128, 256)
# The default run (NormUnit.serial_root tells the square root's form): (32, 8, "frac5", 1) has
# the serial root (no cycle to spare); (16, 16, "m6", 4) and (2, 8, "frac0", 1) an accumulator
# and the pipelined root; (128, 16, "default", 128) is the parallel unit; (16, 8, "dsp", 1)
# squares in multipliers behind a stall pipeline, the others up to four lanes in fabric behind
# the lane sums' FIFO.
FAST = {(16, 16, "m6", 4), (128, 16, "default", 128), (2, 8, "frac0", 1), (32, 8, "frac5", 1),
        (16, 8, "dsp", 1)}


@pytest.mark.parametrize(("d", "in_width", "variant", "lanes", "simulator"), harness.cases(
    verilator=[(d, w, "default", lanes) for d in DIMS for w in (8, 16) for lanes in (
        harness.lanes_of(d) if d in (4, 16, 64, 128) else (d,))]
    + [(d, w, v, lanes) for d in (16, 128) for w in (8, 16) for v in ("frac0", "exact", "m6")
       for lanes in (1, d)]
    + [(16, 8, "frac5", lanes) for lanes in harness.lanes_of(16)] + [(32, 8, "frac5", 1)]
    + [(16, 16, "m6", 4), (2, 8, "frac0", 1), (16, 8, "dsp", 1), (16, 16, "dsp", 4)],
    icarus=[(2, 8, "frac0", 1), (4, 16, "m6", 4), (8, 16, "exact", 2), (16, 16, "default", 16),
            (16, 8, "default", 1)],
    slow=lambda *c: c not in FAST,
))
def test_norm(d, in_width, variant, lanes, simulator, request):
    overrides = VARIANTS[variant]
    p = Params(d=d, in_width=in_width, **overrides)
    unit = NormUnit(p, lanes)
    harness.run(
        unit, test_module=__name__, case=request.node.name, simulator=simulator,
        env={"params": {"d": d, "in_width": in_width, **overrides}, "lanes": lanes,
             "latency": unit.latency, "sign_seed": 1, "vectors": 200},
        seed=2000 + d + in_width + lanes,
    )


# (d, in_width, variant, lanes): beats, latency (squarers + log2 L + (L < d: 2, 4 with fabric
# squarers) + the root (norm_width stages, serial 2 norm_width + 2) + the encoder's stages;
# squarers: 2, or 3 + log2(in_width) shift-and-add stages at L <= 4 but for "dsp"), serial root
# (beats >= 2 norm_width + 2). norm_width is 23 at d=128, in_width=16 (rounded: 5 encoder
# stages), 15 for "frac5" at d=16 and d=32, in_width=8 (32 beats: the serial root with no cycle
# to spare), 14 for "exact" at d=16 (no encoder stage).
@pytest.mark.parametrize(("d", "in_width", "variant", "lanes", "beats", "latency", "serial"), [
    (128, 16, "default", None, 1, 37, False),
    (128, 16, "default", 128, 1, 37, False),
    (128, 16, "default", 32, 4, 37, False),
    (128, 16, "default", 2, 64, 65, True),
    (128, 16, "default", 1, 128, 64, True),
    (32, 8, "frac5", 1, 32, 47, True),
    (16, 8, "frac5", 1, 16, 30, False),
    (16, 8, "frac5", 2, 8, 31, False),
    (16, 8, "exact", 1, 16, 24, False),
    (16, 8, "exact", 16, 1, 20, False),
    (16, 8, "dsp", 1, 16, 23, False),
])
def test_norm_properties(d, in_width, variant, lanes, beats, latency, serial):
    unit = NormUnit(Params(d=d, in_width=in_width, **VARIANTS[variant]), lanes)
    assert (unit.lanes, unit.beats, unit.latency, unit.serial_root) == (
        d if lanes is None else lanes, beats, latency, serial)


def test_norm_fast_cases():
    """The default run reaches the parallel unit and both square roots of the folded one."""
    forms = set()
    for d, in_width, variant, lanes in FAST:
        unit = NormUnit(Params(d=d, in_width=in_width, **VARIANTS[variant]), lanes)
        forms.add("parallel" if unit.beats == 1 else "serial" if unit.serial_root else "pipelined")
    assert forms == {"parallel", "serial", "pipelined"}
