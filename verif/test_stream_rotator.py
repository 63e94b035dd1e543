# amaranth: UnusedElaboratable=no
"""Folded rotator: emitted Verilog against :func:`axelram.golden.fixed.rotate`, bit for bit."""

import cocotb
import numpy as np
import pytest
from cocotb.triggers import ReadOnly

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.hdl.stream_rotator import StreamRotator
from axelram.verif import harness
from axelram.verif.tb import (
    FoldedTB,
    StreamSink,
    StreamSource,
    Transfers,
    case_rng,
    consecutive,
    pauses,
    stream_test,
    unpack,
)
from axelram.verif.vectors import extreme_vectors, random_vectors


class StreamRotatorTB(FoldedTB):
    def stimulus(self, rng, count):
        return np.concatenate([extreme_vectors(self.p, self.signs),
                               random_vectors(rng, self.p, count)])

    def join(self, received):
        """Output vectors from the output beats (their count must be whole vectors)."""
        beats = [unpack(v, self.p.rotated_width, self.lanes, signed=True) for v in received]
        return np.array(beats).reshape(-1, self.p.d)

    async def check(self, vectors, gaps_rng, bp_rng, gaps, backpressure):
        source = StreamSource(self.dut, "i", pauses(gaps_rng, gaps))
        sink = StreamSink(self.dut, "o", pauses(bp_rng, backpressure))
        count = len(vectors) * self.beats
        await source.send(self.split(vectors))
        await sink.wait_for(count, timeout_cycles=10 * count + self.latency + 100)
        # Long enough for any extra beat (a dummy beat let through) to come out.
        await self.cycles(2 * (self.latency + self.beats) + 5)
        sink.stop()
        assert len(sink.received) == count, f"{len(sink.received)} output beats, {count} expected"
        np.testing.assert_array_equal(self.join(sink.received), fixed.rotate(vectors, self.signs))


stream_rotator_stream = stream_test(StreamRotatorTB, "vectors", "stream_rotator_stream")


@cocotb.test()
async def stream_rotator_reset_mid_traffic(dut):
    """Reset while vectors are in flight; afterwards only new vectors come out, all correct."""
    tb = StreamRotatorTB(dut)
    await tb.reset()
    rng = case_rng(7)
    await tb.reset_in_traffic(tb.split(random_vectors(rng, tb.p, 20)),
                              int(rng.integers(tb.beats + 1, tb.latency + 3 * tb.beats + 1)), rng)
    await tb.check(tb.stimulus(rng, 10), rng, rng, True, True)


@cocotb.test()
async def stream_rotator_flush(dut):
    """One vector, then a long idle gap: the pipeline flushes it on its own (dummy beats), its
    first beat comes out ``latency`` cycles after its first input beat, and nothing else comes
    out; the next vector is taken at once and is right too."""
    tb = StreamRotatorTB(dut)
    await tb.reset()
    rng = case_rng(8)
    vectors = random_vectors(rng, tb.p, 2)
    source, sink = StreamSource(dut, "i"), StreamSink(dut, "o")
    transfers = Transfers(dut)
    idle = 4 * (tb.latency + tb.beats) + 20
    for vector in vectors:
        await ReadOnly()
        assert dut.i__ready.value, "i.ready low while the pipeline is empty"
        sent = len(transfers.i)
        await source.send(tb.split(vector[None]))
        first = transfers.i[sent]
        consecutive(transfers.i[sent:], first, tb.beats)
        await tb.cycles(idle)
        consecutive(transfers.o[sent:], first + tb.latency, tb.beats)
        assert transfers.o_valid == transfers.o, "o.valid outside the vector's beats"
    transfers.stop()
    sink.stop()
    np.testing.assert_array_equal(tb.join(sink.received), fixed.rotate(vectors, tb.signs))


@cocotb.test()
async def stream_rotator_full_rate(dut):
    """Vectors back to back: one vector per ``beats`` cycles in and out, no bubble."""
    tb = StreamRotatorTB(dut)
    await tb.reset()
    vectors = random_vectors(case_rng(9), tb.p, 8)
    source, sink = StreamSource(dut, "i"), StreamSink(dut, "o")
    transfers = Transfers(dut)
    count = len(vectors) * tb.beats
    await source.send(tb.split(vectors))
    await sink.wait_for(count, timeout_cycles=count + tb.latency + 10)
    await tb.cycles(2 * (tb.latency + tb.beats))
    transfers.stop()
    sink.stop()
    first = transfers.i[0]
    cycles_per_vector = (transfers.i[-1] - first + 1) / len(vectors)
    cocotb.log.info("%.2f cycles per vector in (beats %d), first output after %d cycles",
                    cycles_per_vector, tb.beats, transfers.o[0] - first)
    assert cycles_per_vector == tb.beats
    consecutive(transfers.i, first, count)
    consecutive(transfers.o, first + tb.latency, count)
    np.testing.assert_array_equal(tb.join(sink.received), fixed.rotate(vectors, tb.signs))


@pytest.mark.parametrize(("d", "lanes", "in_width", "simulator"), harness.cases(
    verilator=[(8, 1, 8), (8, 2, 8), (8, 8, 8), (16, 4, 16), (32, 1, 8), (32, 8, 8),
               (64, 1, 8), (128, 32, 8), (64, 16, 8)],
    icarus=[(8, 2, 8)],
    # (8, 8): its one FIFO in LUT RAM; (32, 1) and (64, 1): both FIFOs in block RAM; the
    # others: the input FIFO in LUT RAM, the output FIFO in block RAM.
    slow=lambda d, lanes, in_width: d >= 64 and lanes > 1,
))
def test_stream_rotator(d, lanes, in_width, simulator, request):
    p = Params(d=d, in_width=in_width)
    rotator = StreamRotator(p, lanes)
    harness.run(
        rotator, test_module=__name__, case=request.node.name, simulator=simulator,
        env={"params": {"d": d, "in_width": in_width}, "lanes": lanes,
             "latency": rotator.latency, "sign_seed": 1, "vectors": 40},
        seed=2000 + d + lanes + in_width,
    )


def test_stream_rotator_consumer_pauses():
    """A consumer that pauses gets ``d/L`` output places more when folded, none at ``L = d``;
    anything but a bool is refused."""
    p = Params(d=128)
    for lanes, more in ((1, 128), (32, 4), (128, 0)):
        plain, pausing = (StreamRotator(p, lanes, consumer_pauses=c) for c in (False, True))
        assert pausing.output_depth - plain.output_depth == more
        assert pausing.latency == plain.latency
    with pytest.raises(TypeError, match=r"consumer_pauses must be a bool, got 1"):
        StreamRotator(p, 1, consumer_pauses=1)


@pytest.mark.parametrize(("d", "lanes", "beats", "latency"), [
    (8, 1, 8, 31), (8, 8, 1, 5), (128, 1, 128, 279), (128, 32, 4, 26), (128, 128, 1, 9),
])
def test_stream_rotator_properties(d, lanes, beats, latency):
    rotator = StreamRotator(Params(d=d), lanes)
    assert (rotator.lanes, rotator.beats, rotator.latency) == (lanes, beats, latency)
