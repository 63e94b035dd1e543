# amaranth: UnusedElaboratable=no
"""UART receiver and transmitter: random bytes, idle gaps, baud error, glitches, framing errors,
overrun, exact bit timing and latencies.

:class:`SerialHost` is the PC's end of a serial line in simulation (it drives ``rx`` bit by bit
in real time, with a baud error if asked, and decodes ``tx``); the host-link test uses it too.
"""

import cocotb
import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge, Timer

from axelram.hdl.uart import UARTReceiver, UARTTransmitter
from axelram.verif import harness
from axelram.verif.tb import (
    PERIOD_NS,
    Clocked,
    StreamSink,
    StreamSource,
    case,
    case_rng,
    pauses,
)

PERIOD_PS = PERIOD_NS * 1000


def frame_bits(byte: int) -> list[int]:
    """Start bit, 8 data bits LSB first, stop bit."""
    return [0, *((byte >> i) & 1 for i in range(8)), 1]


class SerialHost:
    """Drives ``dut.rx`` with bytes at ``divisor`` clock periods per bit times ``1 + skew``,
    asynchronously to the clock; decodes ``dut.tx`` (mid-bit samples at the exact bit time)
    into :attr:`received`, recording frames whose stop bit is low in :attr:`bad_frames`."""

    def __init__(self, dut, divisor: int, skew: float = 0.0):
        self.rx, self.tx = dut.rx, dut.tx
        self.rx.value = 1
        self.bit_ps = round(divisor * PERIOD_PS * (1 + skew))
        self.tx_bit_ps = divisor * PERIOD_PS
        self.received = bytearray()
        self.bad_frames = 0
        self._task = cocotb.start_soon(self._monitor())

    async def send(self, data: bytes, gaps: np.random.Generator | None = None):
        """Send ``data``; with ``gaps``, idle the line up to 3 bit times between some bytes."""
        for byte in data:
            for bit in frame_bits(byte):
                self.rx.value = bit
                await Timer(self.bit_ps, unit="ps")
            if gaps is not None and gaps.random() < 0.3:
                await Timer(int(gaps.integers(1, 3 * self.bit_ps)), unit="ps")

    async def _monitor(self):
        while True:
            await FallingEdge(self.tx)
            await Timer(self.tx_bit_ps // 2, unit="ps")
            byte = 0
            for i in range(8):
                await Timer(self.tx_bit_ps, unit="ps")
                byte |= int(self.tx.value) << i
            await Timer(self.tx_bit_ps, unit="ps")
            if not self.tx.value:
                self.bad_frames += 1
            self.received.append(byte)

    async def read(self, count: int, timeout_bytes: int = 64) -> bytes:
        """The next ``count`` received bytes; fails after ``count + timeout_bytes`` byte times."""
        for _ in range(20 * (count + timeout_bytes)):
            if len(self.received) >= count:
                break
            await Timer(self.tx_bit_ps // 2, unit="ps")
        assert len(self.received) >= count, \
            f"{len(self.received)} of {count} bytes received: {bytes(self.received).hex()}"
        assert self.bad_frames == 0, "a frame from the link had a low stop bit"
        data = bytes(self.received[:count])
        del self.received[:count]
        return data

    def stop(self):
        self._task.cancel()


class UARTPair(wiring.Component):
    """The receiver and the transmitter side by side, one Verilog top for the unit test."""

    def __init__(self, divisor: int):
        self._receiver, self._transmitter = UARTReceiver(divisor), UARTTransmitter(divisor)
        super().__init__({
            "rx": In(1, init=1), "o": Out(stream.Signature(8)), "framing_error": Out(1),
            "overrun": Out(1), "i": In(stream.Signature(8)), "tx": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.receiver = receiver = self._receiver
        m.submodules.transmitter = transmitter = self._transmitter
        m.d.comb += [receiver.rx.eq(self.rx), self.framing_error.eq(receiver.framing_error),
                     self.overrun.eq(receiver.overrun), self.tx.eq(transmitter.tx)]
        wiring.connect(m, receiver.o, wiring.flipped(self.o))
        wiring.connect(m, wiring.flipped(self.i), transmitter.i)
        return m


class UARTTB(Clocked):
    """After :meth:`start` (a reset), counts the receiver's error pulses; ``o`` is taken by a
    sink unless ``sink`` is False."""

    def __init__(self, dut, sink=True, backpressure=False, rng=None, skew=0.0):
        super().__init__(dut)
        self.divisor = case()["divisor"]
        self.rng = case_rng() if rng is None else rng
        self.host = SerialHost(dut, self.divisor, skew)
        self._sink, self._backpressure = sink, backpressure
        dut.i__valid.value = 0
        dut.o__ready.value = 0
        self.sink = None
        self.framing_errors = self.overruns = 0

    async def start(self):
        await self.reset()
        if self._sink:
            self.sink = StreamSink(self.dut, "o", pauses(self.rng, self._backpressure))
        cocotb.start_soon(self._errors())

    async def _errors(self):
        while True:
            await RisingEdge(self.clk)
            await ReadOnly()
            self.framing_errors += int(self.dut.framing_error.value)
            self.overruns += int(self.dut.overrun.value)

    async def idle_bits(self, bits: float):
        await Timer(round(bits * self.divisor * PERIOD_PS), unit="ps")


@cocotb.test()
@cocotb.parametrize(skew=[-0.02, 0.0, 0.02], gaps=[False, True], backpressure=[False, True])
async def uart_receive(dut, skew, gaps, backpressure):
    """Random bytes at a baud rate off by 2%, with idle gaps and backpressure."""
    tb = UARTTB(dut, backpressure=backpressure, rng=case_rng(int(1000 * skew) + 100 + gaps),
                skew=skew)
    await tb.start()
    data = bytes(tb.rng.integers(0, 256, size=60, dtype=np.uint8))
    await tb.host.send(data, tb.rng if gaps else None)
    await tb.idle_bits(2)
    assert bytes(tb.sink.received) == data
    assert (tb.framing_errors, tb.overruns) == (0, 0)


@cocotb.test()
async def uart_glitch(dut):
    """Low pulses shorter than ``divisor // 2`` clock periods (half a bit for an even divisor),
    at any phase of the clock, each followed by more than half a bit of idle line (a mid-bit
    sampler can be fooled by a second pulse at the start bit's middle), start no frame."""
    tb = UARTTB(dut, rng=case_rng(1))
    await tb.start()
    half_ps = tb.divisor // 2 * PERIOD_PS
    for _ in range(40):
        await Timer(int(tb.rng.integers(1, 2 * PERIOD_PS)), unit="ps")  # any clock phase
        dut.rx.value = 0
        await Timer(int(tb.rng.integers(PERIOD_PS // 5, half_ps - PERIOD_PS // 20)), unit="ps")
        dut.rx.value = 1
        await tb.idle_bits(tb.rng.uniform(0.6, 2))
    await tb.idle_bits(12)
    assert tb.sink.received == [] and tb.framing_errors == 0
    await tb.host.send(b"\x5a")
    await tb.idle_bits(1)
    assert tb.sink.received == [0x5A]


@cocotb.test()
async def uart_receive_latency(dut):
    """The start bit's first cycle on ``rx`` to ``o.valid``: the documented latency."""
    tb = UARTTB(dut)
    await tb.start()
    bits = frame_bits(0xA7)
    await FallingEdge(tb.clk)
    dut.rx.value = 0       # low in this cycle, sampled at its rising edge
    edges = 0
    while True:
        await RisingEdge(tb.clk)
        edges += 1
        if edges % tb.divisor == 0 and edges // tb.divisor < len(bits):
            await FallingEdge(tb.clk)
            dut.rx.value = bits[edges // tb.divisor]
        await ReadOnly()
        if dut.o__valid.value:
            break
        assert edges < 20 * tb.divisor
    assert edges == UARTReceiver(tb.divisor).latency
    assert int(dut.o__payload.value) == 0xA7


@cocotb.test()
async def uart_framing_error_and_break(dut):
    """A low stop bit gives no byte and one ``framing_error``; so does a long break; the next
    byte after the line returns high is received."""
    tb = UARTTB(dut)
    await tb.start()
    for bit in frame_bits(0x33)[:-1] + [0]:
        dut.rx.value = bit
        await tb.idle_bits(1)
    dut.rx.value = 1
    await tb.idle_bits(2)
    assert (tb.framing_errors, tb.sink.received) == (1, [])
    dut.rx.value = 0
    await tb.idle_bits(35)   # a break: three frames' worth of low
    dut.rx.value = 1
    await tb.idle_bits(1)
    await tb.host.send(b"\xc4")
    await tb.idle_bits(1)
    assert (tb.framing_errors, tb.sink.received, tb.overruns) == (2, [0xC4], 0)


@cocotb.test()
async def uart_overrun(dut):
    """A byte that completes while ``o`` still holds one is dropped with an ``overrun``
    pulse; the held byte stays."""
    tb = UARTTB(dut, sink=False)
    await tb.start()
    await tb.host.send(b"\x11\x22\x33")
    await tb.idle_bits(1)
    assert tb.overruns == 2 and tb.framing_errors == 0
    assert int(dut.o__valid.value) == 1 and int(dut.o__payload.value) == 0x11


def decode_line(levels: list[int], divisor: int) -> list[tuple[int, int]]:
    """``(start cycle, byte)`` of each frame in ``tx`` sampled once per cycle; every bit must
    hold for exactly ``divisor`` cycles and the stop bit be high."""
    frames, cycle = [], 0
    while cycle < len(levels):
        if levels[cycle]:
            cycle += 1
            continue
        bits = levels[cycle:cycle + 10 * divisor]
        assert len(bits) == 10 * divisor, "frame cut off at the end of the record"
        for k in range(10):
            one = bits[k * divisor:(k + 1) * divisor]
            assert len(set(one)) == 1, f"bit {k} of the frame at cycle {cycle} changes: {one}"
        assert bits[-1] == 1, f"low stop bit in the frame at cycle {cycle}"
        frames.append((cycle, sum(bits[(k + 1) * divisor] << k for k in range(8))))
        cycle += 10 * divisor
    return frames


@cocotb.test()
@cocotb.parametrize(gaps=[False, True])
async def uart_transmit(dut, gaps):
    """Bytes from ``i`` leave on ``tx``: exact bit times, back to back every ``10 * divisor``
    cycles, the start bit one cycle after the transfer."""
    tb = UARTTB(dut, rng=case_rng(20 + gaps))
    await tb.start()
    data = bytes(tb.rng.integers(0, 256, size=30, dtype=np.uint8))
    source = StreamSource(dut, "i", pauses(tb.rng, gaps, rate=0.01))
    levels, transfers = [], []

    async def record():  # mid-cycle samples: tx, and a transfer at the coming rising edge
        while True:
            await FallingEdge(tb.clk)
            await ReadOnly()
            levels.append(int(dut.tx.value))
            if dut.i__valid.value and dut.i__ready.value:
                transfers.append(len(levels))   # the start bit's cycle is the next record
    recorder = cocotb.start_soon(record())
    await source.send(data)
    await tb.idle_bits(11)
    recorder.cancel()
    frames = decode_line(levels, tb.divisor)
    assert bytes(byte for _, byte in frames) == data
    assert [start for start, _ in frames] == transfers
    if not gaps:
        starts = [start for start, _ in frames]
        assert set(np.diff(starts)) == {10 * tb.divisor}


@pytest.mark.parametrize(("divisor", "simulator"), harness.cases(
    verilator=[(5,), (16,)],
    icarus=[(4,)],
    slow=lambda divisor: divisor == 16,
))
def test_uart(divisor, simulator, request):
    harness.run(UARTPair(divisor), test_module=__name__, case=request.node.name,
                simulator=simulator, env={"divisor": divisor}, seed=7000 + divisor)


def test_divisor_arguments():
    assert UARTReceiver(4).latency == 9 * 4 + 2 + 3 and UARTTransmitter(217).divisor == 217
    with pytest.raises(ValueError, match="divisor must be at least 4 clock cycles per bit, got 3"):
        UARTReceiver(3)
    with pytest.raises(TypeError, match="divisor must be an integer, got 4.0"):
        UARTTransmitter(4.0)
    with pytest.raises(TypeError, match="divisor must be an integer, got True"):
        UARTReceiver(True)
