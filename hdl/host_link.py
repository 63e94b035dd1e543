"""The AXELRAM macro behind a UART: a PC writes keys, sends queries and reads scores."""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import fifo, memory, wiring
from amaranth.lib.wiring import In, Out

from ..gen import protocol
from ..golden.params import Params
from .macro import Macro
from .pipeline import check_lanes
from .uart import UARTReceiver, UARTTransmitter, check_divisor

__all__ = ["HostLink", "RX_DEPTH"]

# Bytes of the receive FIFO: those that arrive while a one-byte reply waits for the transmitter
# (at most one byte time) or a beat waits for the macro (a few cycles), with room to spare.
RX_DEPTH = 4


class HostLink(wiring.Component):
    """A :class:`~axelram.hdl.macro.Macro` served over a UART (8N1) with the byte protocol of
    :mod:`axelram.gen.protocol`.

    Received bytes go through a FIFO of :data:`RX_DEPTH` bytes to a command decoder that
    handles one command at a time: a key's or a query's coordinates go to the macro beat by beat
    as they arrive (``L = lanes`` coordinates per beat, the bits of a coordinate above
    ``in_width`` ignored); replies leave through a serializer in front of the transmitter, and a
    query's scores are taken from the macro only as fast as the UART sends them (backpressure on
    ``scores``: no score is lost). The link counts the keys it hands to the macro since the last
    clear; ``N`` reports that count, a key sent while it is ``depth`` is dropped and answered
    ``F``, and a query's reply announces that many scores. A query scores every key written
    before it: its ``d`` coordinates take at least ``d * 10 * divisor`` cycles to arrive, far
    longer than the macro's write latency, so every earlier key is stored when its table is
    ready.

    Throughput is the UART's: a key takes ``1 + d * ceil(in_width / 8)`` byte times (one byte time
    is ``10 * divisor`` cycles), a query that much plus its reply of ``6 + N * ceil(score_width /
    8)`` bytes for ``N`` stored keys. The decoder takes a byte from the FIFO within a few cycles,
    except while a one-byte reply waits for the transmitter (at most a byte time: keys and clears
    may follow each other without waiting for replies) and while it sends the replies of ``I``,
    ``Q`` and ``N`` (the host must not send then, see :mod:`axelram.gen.protocol`).

    Parameters
    ----------
    params : Params
    lanes : int or None
        Coordinates per beat of the macro, a power of two in ``1..d``; ``None`` is ``d``.
    signs : sequence of +-1
        The macro's sign vector (its ROM), reported by the identify reply.
    divisor : int
        Clock cycles per UART bit (clock frequency / baud rate), at least 4.
    share_rotator : bool
        The macro's ``share_rotator`` (one rotator for keys and queries: the link sends one
        command at a time, so nothing waits for it).

    Members
    -------
    rx : In(1)
        Serial input, idle high (asynchronous: it is synchronized inside).
    tx : Out(1)
        Serial output, idle high.
    """

    rx: In(1, init=1)
    tx: Out(1)

    def __init__(self, params: Params, *, lanes: int | None = None, signs, divisor: int,
                 share_rotator: bool = False):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        self._lanes = check_lanes(params, lanes)
        if signs is None:
            raise TypeError("signs must be a sequence of +1 or -1, got None (the link has no "
                            "signs port)")
        self._divisor = check_divisor(divisor)
        self._params = params
        self._macro = Macro(params, lanes=self._lanes, signs=signs, share_rotator=share_rotator)
        self._identity = protocol.identity_reply(params, self._lanes, signs)
        super().__init__()

    @property
    def params(self) -> Params:
        return self._params

    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def divisor(self) -> int:
        return self._divisor

    def elaborate(self, platform):
        p, lanes = self._params, self._lanes
        width, coord_bytes = p.in_width, protocol.coordinate_bytes(p)
        m = Module()
        m.submodules.macro = macro = self._macro
        m.submodules.receiver = receiver = UARTReceiver(self._divisor)
        m.submodules.transmitter = transmitter = UARTTransmitter(self._divisor)
        m.submodules.rx_fifo = rx_fifo = fifo.SyncFIFO(width=8, depth=RX_DEPTH)
        m.d.comb += [receiver.rx.eq(self.rx), self.tx.eq(transmitter.tx)]
        wiring.connect(m, receiver.o, rx_fifo.w_stream)
        byte, have, take = rx_fifo.r_data, rx_fifo.r_rdy, rx_fifo.r_en

        # Replies: a word of up to `size` bytes shifted out, least significant byte first. A
        # state loads it only while it is empty (`left == 0`).
        size = max(2 + protocol.COUNT_BYTES, protocol.score_bytes(p))
        word = Signal(8 * size)
        left = Signal(range(size + 1))
        m.d.comb += [transmitter.i.valid.eq(left != 0), transmitter.i.payload.eq(word[:8])]
        with m.If(transmitter.i.valid & transmitter.i.ready):
            m.d.sync += [word.eq(word >> 8), left.eq(left - 1)]

        def reply(value, length):
            m.d.sync += [word.eq(value), left.eq(length)]

        def code(command):
            return Const(command, 8)

        # Keys this link has handed to the macro since the last clear.
        stored = Signal(range(p.depth + 1))
        count = Cat(stored, Const(0, 8 * protocol.COUNT_BYTES - len(stored)))

        # Sticky receive errors, reported and cleared by `N`.
        overrun = Signal()
        framing = Signal()
        with m.If(receiver.overrun):
            m.d.sync += overrun.eq(1)
        with m.If(receiver.framing_error):
            m.d.sync += framing.eq(1)

        # A vector's coordinates, assembled byte by byte into beats of `lanes` coordinates;
        # `pending` holds a full beat until the macro takes it.
        coord = Signal(8 * coord_bytes)
        coord_next = Cat(coord[8:], byte)
        beat = Signal(lanes * width)
        index = Signal(range(p.d))            # coordinate being received
        part = Signal(range(coord_bytes))     # its byte being received
        pending = Signal()
        is_query = Signal()
        discard = Signal()
        m.d.comb += [
            macro.keys.payload.eq(beat),
            macro.queries.payload.eq(beat),
            macro.keys.valid.eq(pending & ~is_query),
            macro.queries.valid.eq(pending & is_query),
        ]
        with m.If((macro.keys.valid & macro.keys.ready)
                  | (macro.queries.valid & macro.queries.ready)):
            m.d.sync += pending.eq(0)

        m.submodules.identity = rom = memory.Memory(
            shape=8, depth=len(self._identity), init=list(self._identity))
        rom_read = rom.read_port(domain="comb")
        sent = Signal(range(len(self._identity)))
        m.d.comb += rom_read.addr.eq(sent)

        with m.FSM():
            with m.State("command"):
                with m.If(have & (left == 0)):
                    m.d.comb += take.eq(1)
                    m.d.sync += [index.eq(0), part.eq(0), sent.eq(0)]
                    with m.Switch(byte):
                        with m.Case(protocol.NOP):
                            pass
                        with m.Case(protocol.IDENTIFY):
                            m.next = "identify"
                        with m.Case(protocol.WRITE_KEY):
                            m.d.sync += [is_query.eq(0), discard.eq(stored == p.depth)]
                            m.next = "vector"
                        with m.Case(protocol.QUERY):
                            m.d.sync += [is_query.eq(1), discard.eq(0)]
                            reply(Cat(code(protocol.QUERY), count), 1 + protocol.COUNT_BYTES)
                            m.next = "vector"
                        with m.Case(protocol.CLEAR):
                            m.d.comb += macro.clear.eq(1)
                            m.d.sync += stored.eq(0)
                            reply(code(protocol.CLEAR), 1)
                        with m.Case(protocol.STATUS):
                            flags = Cat(stored == p.depth, overrun, framing)
                            reply(Cat(code(protocol.STATUS), count, flags),
                                  2 + protocol.COUNT_BYTES)
                            # A receive error in this very cycle stays for the next `N`.
                            m.d.sync += [overrun.eq(receiver.overrun),
                                         framing.eq(receiver.framing_error)]
                        with m.Default():
                            reply(code(protocol.UNKNOWN), 1)
            with m.State("identify"):
                with m.If(left == 0):
                    reply(rom_read.data, 1)
                    m.d.sync += sent.eq(sent + 1)
                    with m.If(sent == len(self._identity) - 1):
                        m.next = "command"
            with m.State("vector"):
                with m.If(have & ~pending):
                    m.d.comb += take.eq(1)
                    m.d.sync += [coord.eq(coord_next), part.eq(part + 1)]
                    with m.If(part == coord_bytes - 1):
                        m.d.sync += [part.eq(0), index.eq(index + 1),
                                     beat.eq(Cat(beat[width:], coord_next[:width]))]
                        with m.If(index % lanes == lanes - 1):
                            m.d.sync += pending.eq(~discard)
                        with m.If(index == p.d - 1):
                            m.next = "vector_end"
            with m.State("vector_end"):
                with m.If(~pending & is_query):
                    m.next = "scores"
                    with m.If(stored == 0):   # an empty store gives no score
                        m.next = "end"
                with m.Elif(~pending & discard):
                    reply(code(protocol.STORE_FULL), 1)
                    m.next = "command"
                with m.Elif(~pending):
                    m.d.sync += stored.eq(stored + 1)
                    reply(code(protocol.WRITE_KEY), 1)
                    m.next = "command"
            with m.State("scores"):
                m.d.comb += macro.scores.ready.eq(left == 0)
                with m.If(macro.scores.valid & (left == 0)):
                    reply(macro.scores.payload.score, protocol.score_bytes(p))
                    with m.If(macro.scores.payload.last):
                        m.next = "end"
            with m.State("end"):
                with m.If(left == 0):
                    reply(code(protocol.END), 1)
                    m.next = "command"
        return m
