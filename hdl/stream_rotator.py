"""The folded rotator: ``lanes`` coordinates per cycle, a lane butterfly network and SDF stages."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .pipeline import Folded, check_lanes

__all__ = ["StreamRotator"]


class StreamRotator(Folded, wiring.Component):
    """``y = H_d diag(s) x`` with ``L = lanes`` coordinates per beat, ``d / L`` beats per vector.

    Beat ``k`` of a vector carries coordinates ``k*L .. k*L + L - 1`` (lane ``l`` is coordinate
    ``k*L + l``), on the input and on the output alike; the result matches
    :func:`axelram.golden.fixed.rotate` bit for bit. Since ``H_d = H_{d/L} (x) H_L``, each beat
    goes through a fully parallel ``L``-point butterfly network across the lanes
    (``log2(L)`` registered stages; the sign flip is folded into the first when ``L = d``, and
    has two registered stages of its own when folded: the beat with its sign bits, selected by
    the beat index, then the flipped beat), then each lane through
    a radix-2 single-path delay-feedback (SDF) ``d/L``-point transform over the beats: stages of
    distance ``D = d/(2L), ..., 2, 1`` beats, each a ``D``-deep register buffer per lane and an
    output register. ``lanes = d`` is the parallel :class:`~axelram.hdl.rotator.Rotator` (no SDF
    stage); ``lanes = 1`` has no lane butterflies.

    Latency :attr:`latency` ``= log2(d) + d/L - 1`` (plus 2 when ``L < d``) cycles from the
    transfer of a vector's first input beat to its first output beat when nothing stalls;
    throughput one vector per ``d/L`` cycles (one beat per cycle). Every register moves on one
    advance condition: a vector always starts at beat phase 0; mid-vector the pipeline waits for
    input beats; after the last vector it runs on zero beats, whole vector slots of ``d/L`` of
    them, until every real beat has left (an input vector arriving meanwhile waits for the next
    phase 0); it stops while the output holds a beat that is not accepted. ``i.ready`` does not
    depend on ``i.valid``, ``o.valid`` comes from a register.

    Arithmetic: ``log2(L) * L/2`` butterflies (adder and subtractor) across the lanes plus
    ``log2(d/L) * L`` in the SDF stages, ``(L/2) log2(L) + L log2(d/L)`` in all (d=128: 7 for
    L=1, 13 for L=2, 144 for L=32, 448 for L=128; twice as many adders/subtractors), plus
    ``2 L log2(d/L)`` two-way multiplexers. Registers: the delay buffers (plain registers, a
    shift register per lane and stage) hold ``d - L`` words in all, the stage of distance ``D``
    ``L * D`` words of ``params.fwht_width(s)`` bits for its butterfly level ``s`` (d=128 and
    L = 1, 2, 32, 128: 127, 126, 96, 0 words; 2406, 2508, 2240, 0 bits at in_width=16); plus
    ``L * log2(d)`` pipeline register words (one per lane and butterfly level) and ``latency``
    valid bits. Every level is ``params.fwht_width(level)`` bits wide, so nothing overflows.

    Parameters
    ----------
    params : Params
        ``d`` and ``in_width`` are used.
    lanes : int
        ``L``, a power of two in ``1..d``.

    Members
    -------
    signs : In(d)
        The sign vector: bit ``j`` set negates coordinate ``j``; beat ``k`` uses bits
        ``k*L .. k*L + L - 1``, sampled with the beat (drive it from a constant for a ROM).
    i : In(stream.Signature(ArrayLayout(signed(in_width), L)))
    o : Out(stream.Signature(ArrayLayout(signed(rotated_width), L)))
    """

    def __init__(self, params: Params, lanes: int):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        self._params = params
        self._lanes = check_lanes(params, lanes)
        super().__init__({
            "signs": In(params.d),
            "i": In(stream.Signature(data.ArrayLayout(signed(params.in_width), lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(params.rotated_width), lanes))),
        })

    @property
    def latency(self) -> int:
        """``log2(d) + beats - 1``, plus 2 when folded: one register per butterfly level, ``D``
        more per SDF stage, and the registered input beat and flipped beat."""
        return self._flip_stages + self._params.log2_d + self.beats - 1

    @property
    def _flip_stages(self) -> int:
        return 2 if self.beats > 1 else 0

    def elaborate(self, platform):
        p, lanes, beats = self._params, self._lanes, self.beats
        log2_lanes = lanes.bit_length() - 1
        m = Module()

        # Handshake. `phase` is the beat index of the input slot; a slot is real (it takes a
        # vector's beats) or a dummy (zeros that push the last real beats out). Every stage knows
        # the beat index of its input from `phase` and its constant distance from the input.
        # `chain` carries a valid bit per pipeline step; its last register is o.valid, which also
        # clears when taken while the pipeline does not move. `flush` counts the steps left until
        # the last real beat reaches the output register.
        phase = Signal(range(beats))
        real = Signal()
        flush = Signal(range(self.latency))
        chain = [*(Signal(name=f"valid_{n}") for n in range(self.latency - 1)), self.o.valid]
        hold = Signal()
        start = Signal()
        accept = Signal()
        advance = Signal()
        transfer = Signal()
        m.d.comb += [
            hold.eq(self.o.valid & ~self.o.ready),
            start.eq(phase == 0),
            accept.eq(start | real),
            self.i.ready.eq(~hold & accept),
            transfer.eq(self.i.valid & self.i.ready),
            advance.eq(~hold & Mux(accept, self.i.valid | (start & (flush != 0)), 1)),
        ]
        with m.If(advance):
            m.d.sync += [
                phase.eq(Mux(phase == beats - 1, 0, phase + 1)),
                [later.eq(earlier)
                 for earlier, later in zip([transfer, *chain], chain, strict=False)],
            ]
            with m.If(start):
                m.d.sync += real.eq(transfer)
            with m.If(transfer):
                m.d.sync += flush.eq(self.latency - 1)
            with m.Elif(flush != 0):
                m.d.sync += flush.eq(flush - 1)
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)

        # Sign flip of the beat (zeros in a dummy slot), then the lane butterflies, as in the
        # parallel rotator with d = L. The beat is zeroed from `i.valid` and `accept`, not from
        # `i.ready`, so that no downstream handshake reaches the datapath (whenever the
        # registers load, the two agree). Folded, the beat and its sign bits (a multiplexer on
        # `phase`) are registered first, then the flipped beat, so that the sign selection, the
        # negation and the first addition are each a stage of their own.
        beat = [Mux(self.i.valid & accept, x, 0) for x in self.i.payload]
        if beats > 1:
            signs = Signal(lanes, name="beat_signs")
            inputs = [Signal(signed(p.in_width), name=f"in_{j}") for j in range(lanes)]
            values = [Signal(signed(p.flip_width), name=f"flip_{j}") for j in range(lanes)]
            with m.If(advance):
                m.d.sync += [signs.eq(self.signs.word_select(phase, lanes)),
                             [reg.eq(x) for reg, x in zip(inputs, beat, strict=True)],
                             [value.eq(Mux(signs[j], -x, x))
                              for j, (value, x) in enumerate(zip(values, inputs, strict=True))]]
        else:
            values = [Mux(self.signs[j], -x, x) for j, x in enumerate(beat)]
        for level in range(1, log2_lanes + 1):
            h = 1 << (level - 1)
            out = [Signal(signed(p.fwht_width(level)), name=f"lane{level}_{j}")
                   for j in range(lanes)]
            for j in range(lanes):
                if not j & h:
                    with m.If(advance):
                        m.d.sync += [
                            out[j].eq(values[j] + values[j + h]),
                            out[j + h].eq(values[j] - values[j + h]),
                        ]
            values = out

        # SDF stages. Per group of 2D input beats: the first D beats (a) go into the buffer
        # while the buffer's oldest words (the previous group's a - b) go out; the next D beats
        # (b) leave as a + b and put a - b into the buffer. That is H_2D = [[H_D, H_D],
        # [H_D, -H_D]] in Sylvester order, the output D + 1 beats after the input.
        offset = self._flip_stages + log2_lanes  # pipeline registers in front of the stage
        level, depth = log2_lanes, beats // 2
        while depth:
            level += 1
            second = (phase - offset)[depth.bit_length() - 1]
            out = []
            for j, value in enumerate(values):
                width = signed(p.fwht_width(level))
                buffer = [Signal(width, name=f"sdf{level}_{j}_buf{n}") for n in range(depth)]
                result = Signal(width, name=f"sdf{level}_{j}")
                with m.If(advance):
                    m.d.sync += [
                        buffer[0].eq(Mux(second, buffer[-1] - value, value)),
                        [later.eq(earlier)
                         for earlier, later in zip(buffer, buffer[1:], strict=False)],
                        result.eq(Mux(second, buffer[-1] + value, buffer[-1])),
                    ]
                out.append(result)
            values = out
            offset += depth + 1
            depth //= 2

        for o, value in zip(self.o.payload, values, strict=True):
            m.d.comb += o.eq(value)
        return m
