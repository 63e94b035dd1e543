"""The folded rotator: ``lanes`` coordinates per cycle, a lane butterfly network and SDF stages."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .arith import add_carry
from .pipeline import BlockFIFO, DistributedFIFO, Folded, copies, delay, fast_fifo

__all__ = ["StreamRotator"]

#: Registers each way between the output FIFO's block RAM (in the rotator's block RAM row) and
#: its buffer, which sits by the consumer (:class:`~axelram.hdl.pipeline.BlockFIFO`).
_OUTPUT_HOPS = 1


class StreamRotator(Folded, wiring.Component):
    """``y = H_d diag(s) x`` with ``L = lanes`` coordinates per beat, ``d / L`` beats per vector.

    Beat ``k`` of a vector carries coordinates ``k*L .. k*L + L - 1`` (lane ``l`` is coordinate
    ``k*L + l``), on the input and on the output alike; the result matches
    :func:`axelram.golden.fixed.rotate` bit for bit. Since ``H_d = H_{d/L} (x) H_L``, each beat
    goes through a fully parallel ``L``-point butterfly network across the lanes
    (``log2(L)`` registered stages; the sign flip is folded into the first when ``L = d``, and
    has three registered stages of its own when folded: the beat with its sign bits, selected
    by the beat index, then its ones' complement where negated, then the flipped beat), then
    each lane through a radix-2 single-path delay-feedback (SDF) ``d/L``-point transform over
    the beats: stages of distance ``D = d/(2L), ..., 2, 1`` beats, each per lane two registered
    steps (the sum and difference of the beat and the buffer's oldest word, then the output's
    and the buffer's choices) and a buffer that returns each word ``D - 1`` cycles later.
    ``lanes = d`` is the parallel :class:`~axelram.hdl.rotator.Rotator` (no SDF stage);
    ``lanes = 1`` has no lane butterflies.

    The core never stalls: its registers have no clock enable, so no handshake signal fans out
    to them, and it always runs on beat slots of ``d/L`` cycles (a slot without a vector carries
    whatever it carries; SDF stages mix beats of one slot only). So that a vector, once begun,
    has a beat every cycle and room at the output, the core sits between two FIFOs. The input
    FIFO (``d/L + 4`` beats, only when ``L < d``, written from an input register) lets a vector
    in once all its beats are there;
    the output FIFO (:attr:`output_depth` beats) has a place reserved for each beat of a vector
    before the vector enters, with extra places for a consumer that starts late (``ready_after``).
    A vector enters at a slot boundary, or at once when the core is empty.

    Latency :attr:`latency` ``= 2 d/L + log2(d) + log2(d/L) + 3 + F`` when ``L < d``
    (``log2(d) + F`` when ``L = d``) cycles from the transfer of a vector's first input beat to
    its first output beat, the rotator empty and nothing stalling: the vector's beats arrive
    (and the last one is written into the input FIFO), then the core (:attr:`core_latency`),
    then the output FIFO's ``F``: 2 cycles, 6 in block RAM (5, and a register each way between
    the block RAM and the buffer that feeds the consumer). Throughput one vector per ``d / L``
    cycles (one beat per cycle). ``i.ready`` and ``o.valid`` come from registers.

    Arithmetic: ``log2(L) * L/2`` butterflies (adder and subtractor) across the lanes plus
    ``log2(d/L) * L`` in the SDF stages, ``(L/2) log2(L) + L log2(d/L)`` in all (d=128: 7 for
    L=1, 13 for L=2, 144 for L=32, 448 for L=128; twice as many adders/subtractors), plus
    ``2 L log2(d/L)`` two-way multiplexers. Registers: per lane, the stage of distance ``D``
    holds four words of ``params.fwht_width(s)`` bits for its butterfly level ``s`` (the sum,
    the difference, the oldest word, the output) and the beat, a word of level ``s - 1``; its
    buffer, a delay of ``D - 1`` cycles (:func:`~axelram.hdl.pipeline.delay`), is ``D - 1``
    register words below ``DELAY_MEMORY_CYCLES`` (15), else a memory of all lanes' words (LUT
    RAM at 16 entries, block RAM beyond) behind three register words, with two address
    counters; plus ``L * log2(L)`` pipeline register words (one per lane and lane butterfly
    level). ``axelram report`` gives the measured register and memory bits. The FIFOs are in
    distributed RAM, or in block RAM beyond 64 places
    (:func:`~axelram.hdl.pipeline.fast_fifo`; both at d=128 and one lane). Every level is
    ``params.fwht_width(level)`` bits wide, so nothing overflows.

    Parameters
    ----------
    params : Params
        ``d`` and ``in_width`` are used.
    lanes : int
        ``L``, a power of two in ``1..d``.
    ready_after : int
        Cycles from a vector's last input beat to when the consumer starts taking its beats
        (default 0: always ready); the output FIFO grows by the cycles it waits beyond
        :attr:`latency`, so that such a consumer still sees one vector per ``d/L`` cycles.
    consumer_pauses : bool
        The consumer takes a vector's beats at its own pace and pauses between vectors (the
        query table: one query per ``query_interval`` cycles). Folded, the output FIFO then has
        ``d/L`` places more: a vector held back for want of room enters at the next slot
        boundary, up to ``d/L - 1`` cycles later than room came, and with at most two earlier
        vectors still in the FIFO it still enters by the time the consumer needs it (without
        them, d=128 at one lane lost a slot: four queries waiting, their first scores 144,
        144, then 224 cycles apart).

    Members
    -------
    signs : In(d)
        The sign vector: bit ``j`` set negates coordinate ``j``; beat ``k`` uses bits
        ``k*L .. k*L + L - 1``, sampled with the beat (drive it from a constant for a ROM).
    i : In(stream.Signature(ArrayLayout(signed(in_width), L)))
    o : Out(stream.Signature(ArrayLayout(signed(rotated_width), L)))
    """

    def __init__(self, params: Params, lanes: int, *, ready_after: int = 0,
                 consumer_pauses: bool = False):
        self._fold(params, lanes)
        if not isinstance(ready_after, int) or isinstance(ready_after, bool) or ready_after < 0:
            raise ValueError(f"ready_after must be a non-negative integer, got {ready_after!r}")
        if not isinstance(consumer_pauses, bool):
            raise TypeError(f"consumer_pauses must be a bool, got {consumer_pauses!r}")
        self._ready_after = ready_after
        self._consumer_pauses = consumer_pauses
        super().__init__({
            "signs": In(params.d),
            "i": In(stream.Signature(data.ArrayLayout(signed(params.in_width), lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(params.rotated_width), lanes))),
        })

    @property
    def core_latency(self) -> int:
        """``log2(d) + log2(d/L) + d/L - 1``, plus 3 when folded: one register per butterfly
        level and one more per SDF stage (its two steps), ``D`` more per SDF stage, and the
        registered input beat, inverted beat and flipped beat."""
        return (self._flip_stages + self._params.log2_d + self._sdf_stages + self.beats - 1)

    @property
    def _sdf_stages(self) -> int:
        return self.beats.bit_length() - 1

    @property
    def latency(self) -> int:
        """The input's ``d/L + 1`` cycles when folded (a vector enters once its last beat is
        written into the input FIFO), the core, the output FIFO's (2, or 6 in block RAM)."""
        return self._input_latency + self.core_latency + self._output_latency

    @property
    def output_depth(self) -> int:
        """Output FIFO places: ``core_latency + F + C + d/L``, plus the cycles a late consumer
        waits, ``ready_after + d/L - 1 - latency`` when positive, plus ``d/L`` when folded for
        a consumer that pauses (``consumer_pauses``); ``F`` is the FIFO's latency from write to
        output valid, ``C`` the cycles a freed place takes to count (1, 2 when folded).

        A vector enters only when its ``d/L`` beats find places no earlier beat holds. With an
        always-ready consumer a beat holds its place from its vector's entry until ``F + C + 1``
        cycles after it leaves the core (FIFO write and latency; the registered handshake, the
        credit register, and when folded ``room``, which the retimed ``start`` reads), so the
        beats of earlier vectors hold ``core_latency + F + C`` places whenever a vector enters
        (the sum over a vector's beats ``k`` of ``floor((core_latency + F + C + k) / (d/L))``,
        which is Hermite's identity), and a consumer late by ``W`` cycles holds ``W`` more."""
        return self._output_places(self._output_latency)

    @property
    def _output_in_block_ram(self) -> bool:
        """Whether :func:`~axelram.hdl.pipeline.fast_fifo` puts the places the FIFO needs in
        distributed RAM into block RAM (d=128 at one lane needs 269)."""
        return fast_fifo(self._output_places(DistributedFIFO.LATENCY)) is BlockFIFO

    @property
    def _output_latency(self) -> int:
        """``F``: 2 in distributed RAM, 6 in block RAM (with its hops)."""
        if self._output_in_block_ram:
            return BlockFIFO.LATENCY + _OUTPUT_HOPS
        return DistributedFIFO.LATENCY

    def _output_places(self, fifo_latency: int) -> int:
        latency = self._input_latency + self.core_latency + fifo_latency
        wait = max(self._ready_after + self.beats - 1 - latency, 0)
        credit = 2 if self.beats > 1 else 1
        pauses = self.beats if self._consumer_pauses and self.beats > 1 else 0
        return self.core_latency + fifo_latency + credit + self.beats + wait + pauses

    @property
    def _input_latency(self) -> int:
        return self.beats + 1 if self.beats > 1 else 0

    @property
    def capacity(self) -> int:
        """Beats the rotator can hold: input register and FIFO, core and output FIFO."""
        collect = self._INPUT_FIFO + self.beats if self.beats > 1 else 0
        return collect + self.core_latency + self.output_depth

    _INPUT_FIFO = 4     # input FIFO places beyond a vector's beats (two for the registered input)

    @property
    def _flip_stages(self) -> int:
        return 3 if self.beats > 1 else 0

    def elaborate(self, platform):
        p, lanes, beats = self._params, self._lanes, self.beats
        log2_lanes = lanes.bit_length() - 1
        core = self.core_latency
        m = Module()

        # Input: a vector enters (`start`) when all its beats are at hand (`whole`), a place
        # waits for each of them in the output FIFO (`room`), and the core is at a slot
        # boundary (`phase` = 0). `phase` is the beat index of the slot being fed; it runs
        # freely while the core holds a beat and rests at 0 when it is empty (`flush`: cycles
        # until the last beat fed has left the core), so that an idle rotator takes a vector at
        # once. Folded, `start` and `feed` (the input FIFO's read enable) are registers.
        width = lanes * p.rotated_width
        if self._output_in_block_ram:
            out = BlockFIFO(width=width, depth=self.output_depth, hops=_OUTPUT_HOPS)
        else:
            out = DistributedFIFO(width=width, depth=self.output_depth)
        m.submodules.beats_out = out
        # `spare`: the unreserved places beyond a vector's (one per beat), whose sign says
        # whether a vector has room, so that no comparison comes after the adder.
        spare = Signal(range(-beats, self.output_depth - beats + 1),
                       init=self.output_depth - beats)
        room = Signal()
        phase = Signal(range(beats))
        start = Signal()
        feed = Signal(attrs={"keep": 1})
        # A beat's place is free again two cycles after the beat leaves: the consumer's
        # handshake loads `popped` only, a register of its own (`keep`: the consumer may
        # register the same handshake, and synthesis would merge the two).
        popped = Signal(attrs={"keep": 1})
        m.d.comb += room.eq(~spare[-1])
        taken = Mux(start, Const(-beats, spare.shape()), 0)     # a vector's places
        m.d.sync += [popped.eq(self.o.valid & self.o.ready),
                     spare.eq(add_carry(spare, taken, popped))]
        if beats == 1:
            m.d.comb += [self.i.ready.eq(room), start.eq(self.i.valid & room), feed.eq(start)]
            beat_in = self.i.payload
        else:
            # The input is registered: an accepted beat is written into the input FIFO a cycle
            # later, so the FIFO's write enables come from a flip-flop. `i.ready` is a register
            # too: the FIFO's level (`level`, counted from registers: the write and the read)
            # plus the beat in the input register leaves a place below the FIFO's depth for a
            # beat accepted in the cycle it is compared; no handshake reaches the counter.
            depth = self._INPUT_FIFO + beats
            m.submodules.beats_in = collect = fast_fifo(depth)(width=lanes * p.in_width,
                                                               depth=depth)
            arrived = Signal(range(beats))                      # index of the next input beat
            whole = Signal(range(collect.depth // beats + 1))   # complete vectors in the FIFO
            running = Signal()                                  # a vector is being fed
            flush = Signal(range(core + 1))
            accepted = Signal()
            written = Signal()
            level = Signal(range(collect.depth + 1))
            ready = Signal(init=1)
            last_in = Signal()                                  # the written beat is a last
            m.d.comb += [
                self.i.ready.eq(ready),
                accepted.eq(self.i.valid & self.i.ready),
                collect.w_en.eq(written),
                collect.r_en.eq(feed),
            ]
            m.d.sync += [
                level.eq(add_carry(level, feed.replicate(len(level)), written)),
                ready.eq(Mux(written, level < collect.depth - 2, level < collect.depth - 1)),
                written.eq(accepted),
                collect.w_data.eq(self.i.payload),
                last_in.eq(accepted & (arrived == beats - 1)),
            ]
            with m.If(accepted):
                m.d.sync += arrived.eq(arrived + 1)     # d/L is a power of two: it wraps
            # `start` and `feed` are registers too: each is loaded with its own condition on
            # the other registers' next values, so it holds what that condition is in its cycle
            # (a retiming: the same behavior), and the FIFO's read enable comes from a register.
            # So that each condition is a LUT or two of registers, `drained` (flush = 0) and
            # `last` (phase = d/L - 1) are flags beside their counters, and the condition reads
            # `room` (spare >= 0 now) for the next cycle's: with no vector starting, `spare` can
            # only grow (the places freed now count a cycle late).
            # `feed` twice (`keep`, so that synthesis merges neither): `feed` for the input FIFO
            # and the core, `feeding` for `phase`, `flush` and their flags (one `feed` was
            # placed by the FIFO's block RAM, 24 columns and 24 rows from `phase`'s reset pin, in
            # a placement of the d=128 macro: 5.7 ns).
            feeding = Signal(attrs={"keep": 1})
            drained = Signal(init=1)
            last = Signal()
            # `restart` a cycle late, and whether `phase` was d/L - 3 then: `phase` is d/L - 2
            # now, a LUT of registers, where a comparison of `phase` was two LUT levels.
            restarted = Signal(init=1)
            before = Signal()
            penultimate = Mux(restarted, beats == 2, before)
            # `whole_next != 0`, from bit tests of `whole` alone (a vector starts only when one
            # is whole).
            any_whole = last_in | Mux(start, whole[1:].any(), whole.any())
            whole_next = Signal.like(whole)
            running_next = Signal()
            restart = Signal()
            m.d.comb += [
                whole_next.eq(whole + last_in - start),
                running_next.eq(Mux(start, 1, running & ~last)),
                restart.eq((~feeding & drained) | last),    # phase returns to 0
            ]
            start_next = ~running_next & any_whole & room & restart
            m.d.sync += [
                whole.eq(whole_next),
                running.eq(running_next),
                flush.eq(Mux(feeding, core, Mux(drained, 0, flush - 1))),
                drained.eq(~feeding & (flush <= 1)),
                phase.eq(Mux(restart, 0, phase + 1)),
                restarted.eq(restart),
                before.eq(phase == beats - 3),
                last.eq(~restart & penultimate),
                start.eq(start_next),
                feed.eq(start_next | running_next),
                feeding.eq(start_next | running_next),
            ]
            # A vector's first beat is fed the cycle after its last one is written, beat k k
            # cycles later: beat k is readable F cycles after it is written (the FIFO's
            # LATENCY: 2, or 5 in block RAM from 61 beats on), at most d/L - 1 - k cycles before
            # the last one, so in time since F <= d/L.
            beat_in = data.ArrayLayout(signed(p.in_width), lanes)(collect.r_data)
        valid = feed
        for _ in range(core):
            earlier = valid
            valid = Signal()
            m.d.sync += valid.eq(earlier)

        # Sign flip of the beat, then the lane butterflies, as in the parallel rotator with
        # d = L. Folded, the beat and its sign bits (a multiplexer on `phase`) are registered
        # first, then the beat's ones' complement where negated (-x = ~x + 1) beside the sign
        # bits, then the flipped beat (the +1 as the carry in of an incrementer), so that the
        # sign selection, the inversion, the carry chain and the first addition are each a
        # stage of their own.
        if beats > 1:
            signs = Signal(lanes, name="beat_signs")
            carries = Signal(lanes, name="flip_carries")
            inputs = [Signal(signed(p.in_width), name=f"in_{j}") for j in range(lanes)]
            inverted = [Signal(signed(p.in_width), name=f"inv_{j}") for j in range(lanes)]
            values = [Signal(signed(p.flip_width), name=f"flip_{j}") for j in range(lanes)]
            # The sign bits are chosen a cycle ahead, for the phase after this one (`phase + 1`:
            # the bits after `phase`'s, or the first after a restart), so that the choice,
            # registered, is a LUT of registers.
            ahead = Signal(lanes, name="ahead_signs")
            rotated = Cat(self.signs[lanes:], self.signs[:lanes])
            m.d.sync += [ahead.eq(rotated.word_select(phase, lanes)),
                         signs.eq(Mux(restarted, self.signs[:lanes], ahead)),
                         [reg.eq(x) for reg, x in zip(inputs, beat_in, strict=True)],
                         carries.eq(signs),
                         [inv.eq(x ^ signs[j].replicate(p.in_width))
                          for j, (inv, x) in enumerate(zip(inverted, inputs, strict=True))],
                         [value.eq(x + carries[j])
                          for j, (value, x) in enumerate(zip(values, inverted, strict=True))]]
        else:
            values = [Mux(self.signs[j], -x, x) for j, x in enumerate(beat_in)]
        for level in range(1, log2_lanes + 1):
            h = 1 << (level - 1)
            out_level = [Signal(signed(p.fwht_width(level)), name=f"lane{level}_{j}")
                         for j in range(lanes)]
            for j in range(lanes):
                if not j & h:
                    m.d.sync += [
                        out_level[j].eq(values[j] + values[j + h]),
                        out_level[j + h].eq(values[j] - values[j + h]),
                    ]
            values = out_level

        # SDF stages. Per group of 2D input beats: the first D beats (a) go into the buffer
        # while the buffer's oldest words (the previous group's a - b) go out; the next D beats
        # (b) leave as a + b and put a - b into the buffer. That is H_2D = [[H_D, H_D],
        # [H_D, -H_D]] in Sylvester order. Each stage is two registered steps, so that an
        # adder's carry chain runs from registers to a register and a multiplexer reads
        # registers: the sum and the difference of the beat and the buffer's oldest word (and
        # the beat and that word themselves), then the choices on `second`, of the output and
        # of the word the buffer takes (a delay of D - 1 cycles behind the choice, so its words
        # come back D beats after their beat: registers, or a memory from
        # DELAY_MEMORY_CYCLES on, `delay`). The output is D + 2 beats after the input.
        offset = self._flip_stages + log2_lanes  # pipeline registers in front of the stage
        level, depth = log2_lanes, beats // 2
        # Each stage restarts its counter on its own copy of `restart`, two cycles late
        # (`restart` crossed the die to the stages' counters). Restarting at a vector's last
        # beat changes no counter (2D divides d/L), so only an idle restart counts, and then the
        # core is drained: a late counter takes `init + 2` two cycles late, before a beat fed
        # after the restart reaches the stage (offset + 1 >= 4 cycles later).
        restarts = copies(m, restart, self._sdf_stages, "restart") if depth else []
        while depth:
            level += 1
            # `second`: the beat in the second step is in its group's second half. Its place in
            # the group, `phase - offset - 1` modulo 2D, is a counter beside `phase`
            # (restarting with it), so that `second` comes from a flip-flop.
            init = -(offset + 1) % (2 * depth)
            place = Signal(range(2 * depth), init=init, name=f"sdf{level}_place")
            m.d.sync += place.eq(Mux(restarts[level - log2_lanes - 1], (init + 2) % (2 * depth),
                                     place + 1))
            second = place[-1]
            width = signed(p.fwht_width(level))
            held, written = [], []
            for j, value in enumerate(values):
                held.append(Signal(value.shape(), name=f"sdf{level}_{j}_beat"))
                written.append(Signal(width, name=f"sdf{level}_{j}_written"))
            if depth > 1:
                buffer = delay(m, Cat(written), depth - 1, f"sdf{level}_buffer")
                backs = [buffer[j * width.width:(j + 1) * width.width].as_signed()
                         for j in range(len(values))]
                operands = backs
            else:
                # D = 1: the word back is the one written the cycle before; the adders use
                # it only in a group's second half, when it is the previous beat.
                operands, backs = held, written
            stage = []
            for j, value in enumerate(values):
                total, difference, oldest = (Signal(width, name=f"sdf{level}_{j}_{kind}")
                                             for kind in ("sum", "diff", "oldest"))
                result = Signal(width, name=f"sdf{level}_{j}")
                m.d.comb += written[j].eq(Mux(second, difference, held[j]))
                m.d.sync += [
                    held[j].eq(value),
                    total.eq(operands[j] + value),
                    difference.eq(operands[j] - value),
                    oldest.eq(backs[j]),
                    result.eq(Mux(second, total, oldest)),
                ]
                stage.append(result)
            values = stage
            offset += depth + 2
            depth //= 2

        # Output: every beat that leaves the core has its place reserved in the FIFO.
        rotated = Signal(data.ArrayLayout(signed(p.rotated_width), lanes))
        m.d.comb += [
            [lane.eq(value) for lane, value in zip(rotated, values, strict=True)],
            out.w_en.eq(valid),
            out.w_data.eq(rotated),
            self.o.valid.eq(out.r_rdy),
            self.o.payload.eq(out.r_data),
            out.r_en.eq(self.o.ready),
        ]
        return m
