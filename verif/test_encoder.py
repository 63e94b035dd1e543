# amaranth: UnusedElaboratable=no
"""Key encoder (the folded write path): emitted Verilog against
:func:`axelram.golden.fixed.write_rows`, bit for bit, at every number of lanes."""

import os

import cocotb
import numpy as np
import pytest
from amaranth.hdl import Fragment

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.hdl.encoder import KeyEncoder
from axelram.verif import harness
from axelram.verif.tb import (
    FoldedTB,
    StreamSink,
    StreamSource,
    Transfers,
    case,
    case_rng,
    consecutive,
    pack_words,
    pauses,
    stream_test,
    unpack,
)
from axelram.verif.vectors import extreme_vectors, random_vectors


class EncoderTB(FoldedTB):
    def __init__(self, dut):
        super().__init__(dut)
        if case()["queries"]:
            dut.queries__valid.value = 0
            dut.rotated_queries__ready.value = 1

    def stimulus(self, rng, count):
        """Extreme keys, a zero key, random keys and random keys scaled into every binade."""
        p = self.p
        keys = random_vectors(rng, p, count)
        keys[::2] >>= rng.integers(0, p.in_width, size=(len(keys[::2]), 1))
        return np.concatenate([extreme_vectors(p, self.signs), np.zeros((1, p.d), np.int64),
                               keys])

    def expect(self, keys, received):
        assert len(received) == len(keys), f"{len(received)} rows, {len(keys)} expected"
        np.testing.assert_array_equal(pack_words(received, self.p),
                                      fixed.write_rows(keys, self.signs, self.p))

    async def check(self, keys, gaps_rng, bp_rng, gaps, backpressure):
        source = StreamSource(self.dut, "i", pauses(gaps_rng, gaps))
        sink = StreamSink(self.dut, "o", pauses(bp_rng, backpressure))
        await source.send(self.split(keys))
        await sink.wait_for(len(keys),
                            timeout_cycles=10 * len(keys) * self.beats + 10 * self.latency)
        await self.cycles(2 * (self.latency + self.beats))
        sink.stop()
        self.expect(keys, sink.received)


encoder_stream = stream_test(EncoderTB, "keys", "encoder_stream")


@cocotb.test()
async def encoder_reset_mid_traffic(dut):
    """Reset while keys are in flight, at any beat of a key; afterwards only new rows come out,
    all correct."""
    tb = EncoderTB(dut)
    await tb.reset()
    rng = case_rng(7)
    await tb.reset_in_traffic(tb.split(random_vectors(rng, tb.p, 20)),
                              int(rng.integers(tb.beats + 1, tb.latency + 4 * tb.beats + 1)), rng)
    await tb.check(tb.stimulus(rng, 10), rng, rng, True, True)


@cocotb.test()
async def encoder_full_rate(dut):
    """Keys back to back: one key per ``beats`` cycles in and one row per ``beats`` cycles out,
    the first ``latency`` cycles after the first key's last beat."""
    tb = EncoderTB(dut)
    await tb.reset()
    keys = random_vectors(case_rng(9), tb.p, 8)
    source, sink = StreamSource(dut, "i"), StreamSink(dut, "o")
    transfers = Transfers(dut)
    await source.send(tb.split(keys))
    await sink.wait_for(len(keys), timeout_cycles=len(keys) * tb.beats + tb.latency + 10)
    await tb.cycles(2 * (tb.latency + tb.beats))
    transfers.stop()
    sink.stop()
    first = transfers.i[0]
    cocotb.log.info("%d cycles for %d keys of %d beats; first row %d cycles after its last beat",
                    transfers.i[-1] - first + 1, len(keys), tb.beats,
                    transfers.o[0] - transfers.i[tb.beats - 1])
    consecutive(transfers.i, first, len(keys) * tb.beats)
    assert transfers.o == [transfers.i[tb.beats - 1] + tb.latency + n * tb.beats
                           for n in range(len(keys))], f"rows at cycles {transfers.o}"
    tb.expect(keys, sink.received)


# Only a build with the queries ports has this test (the pytest side imports the module too).
if "AXELRAM_CASE" in os.environ and case()["queries"]:

    @cocotb.test()
    async def encoder_shared_rotator(dut):
        """Queries and keys interleaved through the shared rotator, with gaps and backpressure on
        both outputs: every query comes out rotated, every key as its row, each in order."""
        tb = EncoderTB(dut)
        await tb.reset()
        rng = case_rng(10)
        keys, queries = tb.stimulus(rng, 12), random_vectors(rng, tb.p, 12)
        rows = StreamSink(dut, "o", pauses(rng, True))
        rotated = StreamSink(dut, "rotated_queries", pauses(rng, True))
        key_source = StreamSource(dut, "i", pauses(rng, True))
        query_source = StreamSource(dut, "queries", pauses(rng, True))
        sending = [cocotb.start_soon(key_source.send(tb.split(keys))),
                   cocotb.start_soon(query_source.send(tb.split(queries)))]
        for task in sending:
            await task
        beats = len(queries) * tb.beats
        await rotated.wait_for(beats, timeout_cycles=20 * beats + 10 * tb.latency)
        await rows.wait_for(len(keys), timeout_cycles=20 * len(keys) * tb.beats + 10 * tb.latency)
        await tb.cycles(2 * (tb.latency + tb.beats))
        rows.stop()
        rotated.stop()
        tb.expect(keys, rows.received)
        got = np.array([unpack(v, tb.p.rotated_width, tb.lanes, signed=True)
                        for v in rotated.received]).reshape(-1, tb.p.d)
        np.testing.assert_array_equal(got, fixed.rotate(queries, tb.signs))


# (64, 3, 16, 1): the rotator's FIFOs in block RAM.
FAST = {(16, 3, 16, 1, False), (16, 3, 16, 4, True), (8, 2, 8, 8, False), (64, 3, 16, 1, False)}


@pytest.mark.parametrize(("d", "b", "in_width", "lanes", "queries", "simulator"), harness.cases(
    verilator=[(d, b, 16, lanes, False) for d in (4, 16, 64, 128) for b in (1, 3)
               for lanes in harness.lanes_of(d)]
    + [(8, 2, 8, 8, False), (8, 4, 8, 2, False)]
    + [(d, 3, 16, lanes, True) for d in (16, 64) for lanes in harness.lanes_of(d)],
    icarus=[(8, 2, 8, 2, False), (8, 3, 8, 4, True)],
    slow=lambda *c: c not in FAST,
))
def test_encoder(d, b, in_width, lanes, queries, simulator, request):
    p = Params(d=d, b=b, in_width=in_width)
    encoder = KeyEncoder(p, lanes, queries=queries)
    harness.run(
        encoder, test_module=__name__, case=request.node.name, simulator=simulator,
        env={"params": {"d": d, "b": b, "in_width": in_width}, "lanes": lanes,
             "queries": queries, "latency": encoder.latency, "sign_seed": 1, "keys": 30},
        seed=4000 + d + b + lanes + in_width,
    )


# The longer of two paths, then the quantizer (3 cycles):
# - thresholds: norm + thresholds + the accepted beat's register and the three FIFOs on their
#   path + the other beats, b=3
#   (threshold trees of 3, 7 and 4 CSD digits: 3 + 3 stages), in_width=16 (norm_width 23 at
#   d=128, 22 at d=16); the norm unit takes S + log2(L) + (4 if L < d) + the root (norm_width
#   stages, or serial 2 norm_width + 2 cycles when d/L >= 2 norm_width + 2) + 5 (the rounded
#   norm's encoder), with S the squarers' stages: 2, or 7 in fabric at L <= 4 (in_width 16);
# - rotation, from the first beat: the input's d/L + 1 (when L < d), the core (3 when L < d,
#   log2(d), log2(d/L), d/L - 1), the output FIFO's 2 (6 in block RAM with its hops, beyond 16
#   places: L = 1 here), the rotated beat's register and its FIFO's 2 before the join.
@pytest.mark.parametrize(("d", "lanes", "beats", "latency"), [
    (128, 128, 1, 37 + 6 + 4 + 0 + 3),                      # thresholds (rotation: 11)
    (128, 1, 128, 129 + (3 + 7 + 7 + 127) + 6 + 2 + 3),     # rotation (thresholds: 201)
    (16, 4, 4, 40 + 6 + 4 + 3 + 3),                         # thresholds (rotation: 21)
])
def test_encoder_properties(d, lanes, beats, latency):
    encoder = KeyEncoder(Params(d=d, b=3), lanes)
    Fragment.get(encoder, None)  # its blocks are built in __init__: elaborate them too
    assert (encoder.lanes, encoder.beats, encoder.latency) == (lanes, beats, latency)
