"""The key encoder: a key, ``lanes`` coordinates per cycle, in; its packed store row out."""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .norm import NormUnit
from .pipeline import DistributedFIFO, Folded, counter_below
from .quantizer import Quantizer, ThresholdUnit
from .stream_rotator import StreamRotator

__all__ = ["KeyEncoder"]


class KeyEncoder(Folded, wiring.Component):
    """The write path: sign flip, FWHT, norm, quantizer and row assembly, ``L = lanes`` wide.

    A key arrives as ``d / L`` beats of ``L`` coordinates (beat ``k`` carries coordinates
    ``k*L .. k*L + L - 1``; beats are counted from reset) and leaves as one row, equal to
    :func:`axelram.golden.fixed.write_rows` bit for bit. Each beat goes at once to the
    :class:`~axelram.hdl.stream_rotator.StreamRotator` and to the
    :class:`~axelram.hdl.norm.NormUnit`. The quantizer cannot compare before it knows the key's
    norm, which needs every coordinate, so the rotated beats wait in the rotator's output FIFO
    (block or distributed RAM, its places reserved before a vector enters the rotator) while the
    norm unit and the :class:`~axelram.hdl.quantizer.ThresholdUnit` finish; the thresholds wait
    in a FIFO while the key's beats pass the :class:`~axelram.hdl.quantizer.Quantizer`, one per
    cycle. Both FIFOs are sized for whichever path is the longer one at this ``L``: at small
    ``L`` the rotation (whose input FIFO waits for the key's last beat) comes after the
    thresholds, at large ``L`` the norm's square root comes last. The FIFOs' flags are
    registers, so no handshake path runs from the quantizer back to the input.

    Throughput one beat per cycle (one key per ``d / L`` cycles) with keys back to back.
    :attr:`latency` cycles from the transfer of a key's last beat to its row, nothing stalling.
    Backpressure on ``o`` stalls the quantizer, then the FIFOs fill and ``i.ready`` drops.

    With ``queries`` the rotator is shared with query vectors (``d/2 log2 d`` butterflies fewer
    at ``L = d``): a vector whose first beat finds ``queries.valid`` high is a query (queries
    come first), its beats all come from ``queries``, and its rotated beats leave on
    ``rotated_queries`` instead of going to the quantizer; the keys wait meanwhile.

    Parameters
    ----------
    params : Params
    lanes : int or None
        ``L``, a power of two in ``1..d``; ``None`` is ``d`` (one key per cycle).
    queries : bool
        Add the ``queries`` and ``rotated_queries`` ports (see above).

    Members
    -------
    signs : In(d)
        The sign vector, bit ``j`` set negates coordinate ``j`` (drive it from a constant for a
        ROM); hold it stable while vectors flow.
    i : In(stream.Signature(ArrayLayout(signed(in_width), L)))
        Key beats.
    o : Out(stream.Signature(unsigned(row_width)))
        Rows: index ``j`` in bits ``[j*b, (j+1)*b)``, the norm field above ``d*b``.
    queries : In(stream.Signature(ArrayLayout(signed(in_width), L))), with ``queries`` only
    rotated_queries : Out(stream.Signature(ArrayLayout(signed(rotated_width), L))), idem
    """

    # Registers on the norm path: the accepted beat's, then the FIFOs (input beats,
    # norms, thresholds), a cycle each.
    _NORM_PATH_STAGES = 4
    # Registers between the rotator and the quantizer: the rotated beat's, then its FIFO's.
    _ROTATED_STAGES = 2

    def __init__(self, params: Params, lanes: int | None = None, *, queries: bool = False):
        lanes = self._fold(params, lanes)
        self._queries = bool(queries)
        beat = data.ArrayLayout(signed(params.in_width), lanes)
        rotated = data.ArrayLayout(signed(params.rotated_width), lanes)
        members = {
            "signs": In(params.d),
            "i": In(stream.Signature(beat)),
            "o": Out(stream.Signature(params.row_width)),
        }
        if self._queries:
            members["queries"] = In(stream.Signature(beat))
            members["rotated_queries"] = Out(stream.Signature(rotated))
        super().__init__(members)
        self._norm = NormUnit(params, lanes)
        self._thresholds = ThresholdUnit(params)
        self._quantizer = Quantizer(params, lanes)
        # The rotated beats wait in the rotator's output FIFO for the key's thresholds.
        self._rotator = StreamRotator(params, lanes, ready_after=self._threshold_latency)

    @property
    def rotator(self) -> StreamRotator:
        """The rotator (its ``latency`` is the queries' latency through it)."""
        return self._rotator

    @property
    def shift_add_multipliers(self) -> int:
        """The norm unit's squarers built of shifts and adds
        (:attr:`~axelram.hdl.norm.NormUnit.shift_add_multipliers`)."""
        return self._norm.shift_add_multipliers

    @property
    def _threshold_latency(self) -> int:
        """From a key's last beat to its thresholds at the head of their FIFO: the norm, the
        thresholds, the accepted beat's register and the three FIFOs on their path."""
        return self._norm.latency + self._thresholds.latency + self._NORM_PATH_STAGES

    @property
    def _scales_depth(self) -> int:
        """Thresholds FIFO entries: the keys whose thresholds are known while an earlier key's
        beats still wait to be rotated, plus one being written and one of slack; and, since a
        key's place is reserved as its norm enters the threshold unit and free again two cycles
        after its thresholds leave, the unit's latency and 2."""
        ahead = self._rotated_latency - self._threshold_latency + 1
        return max(ahead // self.beats, 0) + 2 + self._thresholds.latency + 2

    @property
    def _rotated_latency(self) -> int:
        """From a key's first beat to its first rotated beat at the join: the rotator, the
        rotated beat's register and FIFO."""
        return self._rotator.latency + self._ROTATED_STAGES

    @property
    def latency(self) -> int:
        """``max(rotator.latency + 2, thresholds + d/L - 1) + quantizer.latency``: the key's
        last beat passes the quantizer once it is rotated (``rotator.latency + 2`` after the
        first beat: the rotator, the rotated beat's register and FIFO) and once the key's
        thresholds are known (``norm.latency + thresholds.latency + 4`` after the last beat:
        the accepted beat's register and the three FIFOs on their path) and the other beats
        are through; then the quantizer."""
        return (max(self._rotated_latency, self._threshold_latency + self.beats - 1)
                + self._quantizer.latency)

    def elaborate(self, platform):
        p, lanes, beats = self._params, self._lanes, self.beats
        m = Module()
        m.submodules.rotator = rotator = self._rotator
        m.submodules.norm = norm = self._norm
        m.submodules.thresholds = thresholds = self._thresholds
        m.submodules.quantizer = quantizer = self._quantizer
        m.d.comb += rotator.signs.eq(self.signs)
        key_ready = Signal()    # a rotated key beat has a place in `rotated`
        # Small FIFOs before the norm unit (four places) and after it (two), whose `w_rdy` are
        # kept as registers (`beats_room`, `norm_room`: the level below the depth, counted
        # beside the FIFO), so that the norm path's stalls never reach the input's ready or the
        # rotator's clock enables, and `i.ready`, the rotator's input counters and the norm's
        # encoder stall see one LUT of registers. Both are written only with a place free
        # (`DistributedFIFO`, fall-through), so their `r_rdy` are registers too.
        # An accepted key beat is registered and written into `beats_in` a cycle later, so that
        # the input handshake drives one flip-flop, not the FIFO's distributed RAM write enables
        # (placed with the norm unit: 3.9 ns of routing in the d=128 macro). `beats_room`
        # counts the registered beat as stored, and a beat's place as free a cycle after it is
        # taken (`beat_freed`, a register, so that the FIFO's flag and the norm unit's ready
        # reach the counter from a flip-flop: through a LUT they took 1.9 ns of routing in the
        # one-lane encoder), so the FIFO has two places more for a beat per cycle.
        m.submodules.beats_in = beats_in = DistributedFIFO(width=lanes * p.in_width, depth=4,
                                                           fall_through=True)
        beat_stored = Signal()
        beat_taken = Signal()
        beat_freed = Signal()
        beats_room = counter_below(m, beat_stored, beat_freed, beats_in.depth)
        m.d.sync += beat_freed.eq(beat_taken)
        accepted = Signal()
        accepted_beat = Signal(lanes * p.in_width, reset_less=True)
        m.d.sync += [accepted.eq(beat_stored), accepted_beat.eq(self.i.payload)]

        # Input: a key beat goes to the rotator and the norm unit in the same cycle (neither's
        # ready depends on its valid); a query beat to the rotator only.
        if self._queries:
            phase = Signal(range(beats))        # beat index of the next input beat
            query = Signal()                    # the current vector is a query
            select = Signal()
            m.d.comb += select.eq(Mux(phase == 0, self.queries.valid, query))
            with m.If(rotator.i.valid & rotator.i.ready):
                m.d.sync += phase.eq(phase + 1)     # d/L is a power of two: it wraps
                with m.If(phase == 0):
                    m.d.sync += query.eq(select)
            # The rotator keeps vectors in order: a tag per vector in flight says which are
            # queries (at most latency / beats + 2 of them).
            m.submodules.tags = tags = fifo.SyncFIFO(
                width=1, depth=rotator.capacity // beats + 2)
            out_phase = Signal(range(beats))
            rotated_taken = Signal()
            m.d.comb += [
                tags.w_en.eq(rotator.i.valid & rotator.i.ready & (phase == 0)),
                tags.w_data.eq(select),
                rotated_taken.eq(rotator.o.valid & rotator.o.ready),
                tags.r_en.eq(rotated_taken & (out_phase == beats - 1)),
                self.rotated_queries.payload.eq(rotator.o.payload),
            ]
            with m.If(rotated_taken):
                m.d.sync += out_phase.eq(out_phase + 1)
            to_table = tags.r_data
            m.d.comb += [
                self.queries.ready.eq(select & rotator.i.ready),
                self.rotated_queries.valid.eq(rotator.o.valid & to_table),
            ]
            m.d.comb += [
                rotator.i.valid.eq(Mux(select, self.queries.valid, self.i.valid & beats_room)),
                rotator.i.payload.eq(Mux(select, self.queries.payload, self.i.payload)),
                rotator.o.ready.eq(Mux(to_table, self.rotated_queries.ready, key_ready)),
            ]
        else:
            select, to_table = Const(0), Const(0)
            m.d.comb += [
                rotator.i.valid.eq(self.i.valid & beats_room),
                rotator.i.payload.eq(self.i.payload),
                rotator.o.ready.eq(key_ready),
            ]
        m.d.comb += [
            self.i.ready.eq(~select & rotator.i.ready & beats_room),
            beat_stored.eq(~select & self.i.valid & rotator.i.ready & beats_room),
            beats_in.w_en.eq(accepted),
            beats_in.w_data.eq(accepted_beat),
            beat_taken.eq(beats_in.r_en & beats_in.r_rdy),
            norm.i.valid.eq(beats_in.r_rdy),
            norm.i.payload.eq(beats_in.r_data),
            beats_in.r_en.eq(norm.i.ready),
        ]

        # The join: the key's thresholds wait in a two-entry FIFO while its beats leave the
        # buffer. Both FIFOs' flags are registers, so no handshake runs combinationally from the
        # quantizer back to the input.
        m.submodules.norms = norms = DistributedFIFO(width=len(norm.o.payload.as_value()), depth=2,
                                                     fall_through=True)
        # The threshold unit never stalls (no handshake reaches its registers' enables): a norm
        # enters it only with a place reserved in the thresholds FIFO (a counter of the
        # norms taken and not yet out of the FIFO, a place counting again the cycle after).
        layout = thresholds.o.payload.shape()
        # The thresholds FIFO (fall-through: the oldest key's thresholds are read from its RAM
        # as they wait) is never written full (`room`), so it compares no level: its flags are
        # registers, and the join's handshake starts at flip-flops.
        depth = self._scales_depth
        m.submodules.scales = scales = DistributedFIFO(width=layout.size, depth=depth,
                                                       fall_through=True, rdy_copy=True)
        ready, read = scales.r_rdy, scales.r_en
        taken = Signal()
        popped = Signal()
        room = counter_below(m, taken, popped, depth)
        m.d.sync += popped.eq(read)
        m.d.comb += [scales.w_en.eq(thresholds.o.valid), scales.w_data.eq(thresholds.o.payload)]
        stored = Signal()
        norm_room = counter_below(m, stored, taken, norms.depth)
        m.d.comb += [
            norms.w_en.eq(stored),
            norms.w_data.eq(norm.o.payload),
            norm.o.ready.eq(norm_room),
            stored.eq(norm.o.valid & norm_room),
            thresholds.i.valid.eq(norms.r_rdy & room),
            thresholds.i.payload.eq(norms.r_data),
            norms.r_en.eq(room),
            taken.eq(norms.r_rdy & room),
        ]
        # The rotated key beats reach the join through a small FIFO beside it (fall-through,
        # written from a register, four places counted by `rotated_room` like `beats_in`), so
        # that the join's handshake (both FIFOs' flags into both FIFOs' read enables) stays in
        # the encoder: the rotator's output FIFO 21 columns away took it across twice (5.6 ns
        # in the d=128 macro). A place is free a cycle after its beat is taken
        # (`rotated_freed`), so that the handshake reaches the counter, beside the rotator,
        # from a flip-flop: through a LUT it crossed 53 columns (3.9 ns in session 22's macro).
        # Each side reads the other's flag from a copy (`rdy_copy`): the rotated FIFO's read
        # enable the thresholds FIFO's copy, the thresholds' read and the quantizer's valid the
        # rotated FIFO's copy; with one flag each, the LUT that both read enables shared took
        # the join across twice (5.2 ns, the FIFOs 14 rows apart).
        m.submodules.rotated = rotated = DistributedFIFO(
            width=len(rotator.o.payload.as_value()), depth=4, fall_through=True, rdy_copy=True)
        rotated_stored = Signal()
        rotated_taken = Signal()
        rotated_freed = Signal()
        rotated_room = counter_below(m, rotated_stored, rotated_freed, rotated.depth)
        m.d.sync += rotated_freed.eq(rotated_taken)
        rotated_beat = Signal.like(rotated.w_data, reset_less=True)
        # The write enable is a register of its own (`keep`): the rotator registers the same
        # handshake (`popped`), and merged the one flip-flop drove this FIFO's writes and the
        # rotator's credit counter 40 columns away (2.9 ns of routing at one lane).
        rotated_written = Signal(attrs={"keep": 1})
        m.d.sync += [rotated_written.eq(rotated_stored), rotated_beat.eq(rotator.o.payload)]
        m.d.comb += [
            rotated.w_en.eq(rotated_written),
            key_ready.eq(rotated_room),
            rotated_stored.eq(rotator.o.valid & ~to_table & rotated_room),
            rotated.w_data.eq(rotated_beat),
            rotated_taken.eq(rotated.r_en & rotated.r_rdy),
        ]
        head = layout(scales.r_data)                    # the key being quantized
        beat = Signal(range(beats))                     # beat index of the rotator's output
        # beat == d/L - 1, a flag beside the counter, so that no comparison comes between the
        # handshake and the thresholds FIFO's read enable.
        last = Signal(init=beats == 1)
        consumed = Signal()
        m.d.comb += [
            thresholds.o.ready.eq(1),
            quantizer.i.valid.eq(ready & rotated.r_rdy_copy),
            quantizer.i.payload.rotated.eq(rotated.r_data),
            quantizer.i.payload.thresholds.eq(head.thresholds),
            quantizer.i.payload.field.eq(head.field),
            consumed.eq(quantizer.i.valid & quantizer.i.ready),
            rotated.r_en.eq(scales.r_rdy_copy & quantizer.i.ready),
            read.eq(consumed & last),
        ]
        with m.If(consumed):
            m.d.sync += [beat.eq(beat + 1),        # d/L is a power of two: it wraps
                         last.eq(Mux(last, beats == 1, beat == beats - 2))]
        wiring.connect(m, quantizer.o, wiring.flipped(self.o))
        return m
