"""UART receiver and transmitter: 8 data bits, no parity, one stop bit (8N1), LSB first."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["UARTReceiver", "UARTTransmitter", "check_divisor"]


def check_divisor(divisor) -> int:
    """``divisor`` (clock cycles per bit) if it is an integer of at least 4; else ``TypeError``
    or ``ValueError``."""
    if not isinstance(divisor, int) or isinstance(divisor, bool):
        raise TypeError(f"divisor must be an integer, got {divisor!r}")
    if divisor < 4:
        raise ValueError(f"divisor must be at least 4 clock cycles per bit, got {divisor}")
    return divisor


class _UARTBase(wiring.Component):
    """What the receiver and the transmitter share: ``divisor`` clock cycles per bit, checked by
    :func:`check_divisor` and read back as :attr:`divisor`."""

    def __init__(self, divisor: int):
        self._divisor = check_divisor(divisor)
        super().__init__()

    @property
    def divisor(self) -> int:
        return self._divisor


class UARTReceiver(_UARTBase):
    """Bytes from the ``rx`` line, ``divisor`` clock cycles per bit.

    ``rx`` passes through a two-flop synchronizer. A low level seen while idle starts a frame;
    the line is sampled again ``divisor // 2`` cycles later (mid start bit) and the frame is
    dropped if it is high by then, so a low glitch shorter than ``divisor // 2`` clock periods
    (half a bit for an even divisor) starts no frame, provided the line then stays high past
    that sample. The data bits and the stop bit are sampled ``divisor`` cycles apart from there,
    each in the middle of its bit (a baud rate off by up to about ``(divisor / 2 - 1) / (9.5 *
    divisor)``, 2.6% at ``divisor`` 4 and 5% for large divisors, is received). A frame whose stop
    bit is low (a framing error, or a break) gives no byte and pulses ``framing_error``; the
    receiver then waits for the line to go high.

    Latency :attr:`latency` = ``9 * divisor + divisor // 2 + 3`` cycles from the first cycle
    ``rx`` is low (the start bit) to ``o.valid``: two synchronizer cycles, ``divisor // 2`` to
    the start bit's middle, nine bits to the stop bit's middle, one output register. Throughput
    one byte per frame. ``o`` holds its byte until it is taken; a byte that completes while
    ``o`` still holds an earlier one is dropped, with a one-cycle ``overrun`` pulse.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (clock frequency / baud rate), at least 4.

    Members
    -------
    rx : In(1)
        The serial line, idle high.
    o : Out(stream.Signature(8))
    framing_error : Out(1)
        A one-cycle pulse (registered, in the cycle ``o.valid`` would have risen) for each frame
        whose stop bit was low.
    overrun : Out(1)
        A one-cycle pulse (registered, likewise) for each byte dropped because ``o`` was still
        full.
    """

    rx: In(1, init=1)
    o: Out(stream.Signature(8))
    framing_error: Out(1)
    overrun: Out(1)

    @property
    def latency(self) -> int:
        return 9 * self._divisor + self._divisor // 2 + 3

    def elaborate(self, platform):
        divisor = self._divisor
        m = Module()
        # Both flops start high (the idle line), so no frame starts out of reset.
        meta = Signal(init=1)
        line = Signal(init=1)
        m.d.sync += [meta.eq(self.rx), line.eq(meta)]

        timer = Signal(range(divisor))
        bit = Signal(range(8))
        shift = Signal(8)
        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        m.d.sync += [self.framing_error.eq(0), self.overrun.eq(0)]
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)

        with m.FSM():
            with m.State("idle"):
                with m.If(~line):
                    m.d.sync += timer.eq(divisor // 2 - 1)
                    m.next = "start"
            with m.State("start"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(divisor - 1), bit.eq(0)]
                    with m.If(line):   # the low level did not last half a bit
                        m.next = "idle"
                    with m.Else():
                        m.next = "data"
            with m.State("data"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), bit.eq(bit + 1),
                                 timer.eq(divisor - 1)]
                    with m.If(bit == 7):
                        m.next = "stop"
            with m.State("stop"):
                with m.If(timer == 0):
                    with m.If(~line):
                        m.d.sync += self.framing_error.eq(1)
                        m.next = "break"
                    with m.Elif(self.o.valid & ~self.o.ready):
                        m.d.sync += self.overrun.eq(1)
                        m.next = "idle"
                    with m.Else():
                        m.d.sync += [self.o.payload.eq(shift), self.o.valid.eq(1)]
                        m.next = "idle"
            with m.State("break"):
                with m.If(line):
                    m.next = "idle"
        return m


class UARTTransmitter(_UARTBase):
    """Bytes onto the ``tx`` line, ``divisor`` clock cycles per bit.

    A byte transferred on ``i`` in cycle ``c`` starts its start bit on ``tx`` in cycle ``c + 1``
    (latency 1; ``tx`` comes straight from a register); then 8 data bits, LSB first, and a stop
    bit, ``divisor`` cycles each. ``i.ready`` is high while the line is idle and in the stop
    bit's last cycle, so bytes offered back to back leave one per ``10 * divisor`` cycles.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least 4.

    Members
    -------
    i : In(stream.Signature(8))
    tx : Out(1)
        The serial line, idle high.
    """

    i: In(stream.Signature(8))
    tx: Out(1)

    def elaborate(self, platform):
        divisor = self._divisor
        m = Module()
        # Start bit, data bits, stop bit; shifted out from bit 0, ones shifted in (idle line).
        frame = Signal(10, init=(1 << 10) - 1)
        bits = Signal(range(11))          # bits of the frame still to send
        timer = Signal(range(divisor))
        m.d.comb += [
            self.tx.eq(frame[0]),
            self.i.ready.eq((bits == 0) | ((bits == 1) & (timer == 0))),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [frame.eq(Cat(0, self.i.payload, 1)), bits.eq(10),
                         timer.eq(divisor - 1)]
        with m.Elif(bits != 0):
            with m.If(timer == 0):
                m.d.sync += [frame.eq(Cat(frame[1:], 1)), bits.eq(bits - 1),
                             timer.eq(divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m
