"""The norm unit: ``isqrt(sum(k**2) << 2*norm_frac)`` of a key, and its stored row field."""

from functools import partial

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .arith import add_carry, shift_add_depth, shift_add_mul
from .pipeline import DistributedFIFO, Folded, counter_below, register, stall_pipeline

__all__ = ["NormUnit", "FABRIC_SQUARER_LANES"]

#: Up to this many lanes, with ``params.score_multiplier = "fabric"``, the squarers are
#: shift-and-add in fabric (``in_width`` partial products, a register after every adder: about
#: 30 LUTs per product bit); wider units, and ``"dsp"``, square in hard multipliers, which
#: Yosys cannot pipeline on the ECP5 (MULT18X18D: 3.9 ns from input to output, the d=16
#: macro's critical path).
FABRIC_SQUARER_LANES = 4


class NormUnit(Folded, wiring.Component):
    """The key norm ``N = isqrt(sum(k**2) << 2*norm_frac)`` and its row field.

    ``L = lanes`` coordinates per beat, ``d / L`` beats per key: beat ``k`` carries coordinates
    ``k*L .. k*L + L - 1``; a key is ``d / L`` consecutive beats counted from reset (idle gaps
    between beats are allowed). Matches :func:`axelram.golden.fixed.key_norm` and
    :func:`axelram.golden.fixed.encode_norm`.

    Structure: ``L`` squarers and a pipelined adder tree over the lanes (a register before the
    squarers, then, when ``L <=`` :data:`FABRIC_SQUARER_LANES` and ``score_multiplier =
    "fabric"``, of the coordinates' ones' complements and signs, the magnitudes' (an
    incrementer) and their ``ceil(log2(in_width)) + 1`` shift-and-add stages,
    else a hard multiplier and its output register; one register per tree level,
    ``params.norm_tree_width(level)`` bits); for ``L < d`` an accumulator of ``norm_sq_width``
    bits over the key's beats and its output registers (the key's sum in halves: the low
    halves' difference, the high halves' difference and carry, added as it is read); the
    digit-by-digit square root, one root bit per step; when ``norm_rounded``, the reduced-float
    encoder in five registered stages (the leading one's position, the bits below it in two
    shifts, the rounding, the renormalization).
    The root is a ``norm_width``-stage pipeline, or, when ``d / L >= 2 norm_width + 2``
    (:attr:`serial_root`: a key's sum cannot come sooner than a root takes), a load, one step
    per two cycles on a single adder whose operands are registers, and an output register.
    Folded, the pipelined root and the encoder never stall: a key's sum enters them only with a
    place reserved in a fall-through FIFO whose write is their last stage
    (``floor((R + 1) / (d/L)) + 1`` places for ``R`` their stages), from which ``o`` is read.

    Latency :attr:`latency` cycles from the transfer of a key's last beat to its ``o.valid``
    when nothing stalls: ``S + log2(L) + norm_width + 5 norm_rounded`` with ``S`` the squarers'
    stages (``3 + ceil(log2(in_width))`` in fabric, else 2), plus, when ``L < d``, two for the
    accumulator and its output and with fabric squarers two for the lane sums' FIFO, and for the
    serial root ``norm_width + 2`` more (the second cycle of every step, its load and output).
    Throughput one beat per cycle: keys back to back, one per ``d / L`` cycles. ``i.ready`` does
    not depend on ``i.valid``. For ``L = d`` it is ``~o.valid | o.ready`` (one stall signal for
    the whole pipeline). For ``L < d`` with hard multipliers it is low exactly when the tree's
    last register holds a beat and the accumulator cannot take it; with fabric squarers these
    and the lane tree never stall: a beat enters only with a place reserved for its lane sum in
    a FIFO of ``S + log2(L) + 3`` places behind them, and ``i.ready`` is low while every place
    is reserved. Either happens only when a key's last beat finds a sum in the accumulator's
    output register (with more than two beats a key, also one being taken), not taken before:
    every place of the pipelined root's FIFO is reserved, or the serial root is still stepping
    or holds a finished root that its output register (holding a root that does not move on)
    cannot take. A serial root moves on when ``o.ready`` is high or, with ``norm_rounded``, when
    the encoder register is empty or being taken. With ``o.ready`` always high, ``i.ready``
    never drops.

    Operations and flip-flop bits (as ``axelram report`` counts them: Yosys ``proc; opt -full;
    wreduce``; at one and two lanes most are the squarers' stages; the lane sums' FIFO and the
    pipelined root's are memories)
    for ``d = 128``, ``in_width = 16`` (``norm_width`` 23, ``norm_sq_width`` 38, rounded):

    =====  ========  ============================  ================  =============
    ``L``  squarers  adders                        root adders       register bits
    =====  ========  ============================  ================  =============
    1      1         1 (the accumulator)           1 (serial)        1,241
    2      2         2 (1 + the accumulator)       1 (serial)        1,939
    32     32        32 (31 + the accumulator)     23                3,786
    128    128       127                           23                11,347
    =====  ========  ============================  ================  =============

    Besides: the encoder's ``norm_mantissa + 1``-bit and exponent incrementers, for ``L < d``
    the accumulator's subtractor (a key's sum is a difference of its values) and the beat
    counter. The squarers are true multiplications (``in_width`` x ``in_width`` bits) that the
    paper's "zero multipliers" write path does not count, whether built of shifts and adds or
    in hard multipliers.

    Parameters
    ----------
    params : Params
        ``d``, ``in_width``, ``norm_frac`` and ``norm_mantissa`` are used.
    lanes : int or None
        ``L``, a power of two in ``1..d``; ``None`` is ``d`` (one beat per key).

    Members
    -------
    i : In(stream.Signature(ArrayLayout(signed(in_width), L)))
        A beat of the key.
    o : Out(stream.Signature(StructLayout({"norm": unsigned(norm_width),
                                           "field": unsigned(norm_field_width)})))
        One per key: ``norm`` is ``N``; ``field`` is the row's norm field (``N`` itself, or
        ``m | e << norm_mantissa`` with ``N ~= m << e``).
    """

    def __init__(self, params: Params, lanes: int | None = None):
        self._fold(params, lanes)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(params.in_width), self._lanes))),
            "o": Out(stream.Signature(data.StructLayout({
                "norm": unsigned(params.norm_width),
                "field": unsigned(params.norm_field_width),
            }))),
        })

    @property
    def serial_root(self) -> bool:
        """Whether the square root is serial: ``beats >= 2 norm_width + 2``, the cycles it
        needs (one to load the sum, two per root bit, one to hand the root over). Never for
        ``lanes = d``."""
        return self.beats >= 2 * self._params.norm_width + 2

    @property
    def latency(self) -> int:
        """Cycles from a key's last beat to its ``o.valid``: the squarers' stages, tree levels,
        the accumulator and its output and with fabric squarers the lane sums' FIFO
        (``lanes < d``), the root (``norm_width`` stages, or serial ``2 norm_width + 2``
        cycles) and the encoder's five registers (``norm_rounded``)."""
        p = self._params
        folded = self.beats > 1
        fifo = self._LANE_SUMS_FIFO * self._fabric_squarers
        root = 2 * p.norm_width + 2 if self.serial_root else p.norm_width
        return (self._front_stages + (fifo + 2) * folded + root
                + self._ENCODER_STAGES * p.norm_rounded)

    @property
    def _front_stages(self) -> int:
        """The squarers' stages and one register per lane-tree level."""
        return self._square_stages + self._lanes.bit_length() - 1

    # Folded, with fabric squarers: the lane sums' FIFO, from write to output valid.
    _LANE_SUMS_FIFO = 2

    def elaborate(self, platform):
        p, lanes = self._params, self._lanes
        m = Module()
        norm = Signal(p.norm_width)

        if self.beats == 1:
            # The parallel unit: one stall pipeline from the key to o.
            advance = stall_pipeline(m, self.i, self.o, self.latency)
            m.d.comb += norm.eq(self._root_pipeline(m, advance, self._squares(m, advance)))
            self._encode(m, advance, norm)
            return m

        # Folded: the squarers and the lane tree (a stall pipeline, or with the shift-and-add
        # squarers' hundreds of registers a pipeline that never stalls, _unstalled_front), then
        # handshake segments to the keys' sums (the accumulator), to the roots (a stall
        # pipeline or the serial root), to o (the encoder's registers when rounded).
        lane_sums = stream.Signature(unsigned(p.norm_tree_width(lanes.bit_length() - 1))).create(
            path=("lane_sums",))
        sums = stream.Signature(unsigned(p.norm_sq_width)).create(path=("sums",))
        if self._fabric_squarers:
            self._unstalled_front(m, lane_sums)
        else:
            advance = stall_pipeline(m, self.i, lane_sums, self._front_stages)
            m.d.comb += lane_sums.payload.eq(self._squares(m, advance))
        self._accumulate(m, lane_sums, sums)
        if not self.serial_root:
            self._unstalled_tail(m, sums)
            return m
        roots = stream.Signature(unsigned(p.norm_width)).create(path=("roots",))
        self._serial_root(m, sums, roots)
        m.d.comb += norm.eq(roots.payload)
        if p.norm_rounded:
            self._encode(m, stall_pipeline(m, roots, self.o, self._ENCODER_STAGES), norm)
        else:
            m.d.comb += [self.o.valid.eq(roots.valid), roots.ready.eq(self.o.ready)]
            self._encode(m, None, norm)
        return m

    @property
    def _tail_stages(self) -> int:
        """The pipelined root's stages and the encoder's."""
        p = self._params
        return p.norm_width + self._ENCODER_STAGES * p.norm_rounded

    @property
    def _tail_places(self) -> int:
        """Places of the FIFO behind the unstalled tail: a sum's place is taken for ``R + 1``
        cycles from the cycle after its entry (``R`` stages, the last the FIFO's write, its
        read, the freed place counting a cycle late); sums ``d / L`` cycles apart find
        ``floor((R + 1) / (d/L))`` places taken, so one more keeps one sum per ``d / L``
        cycles."""
        return (self._tail_stages + 1) // self.beats + 1

    def _unstalled_tail(self, m, sums):
        """The folded unit's pipelined root and the encoder's registers without a stall signal
        (no handshake reaches their enables; as a stall pipeline, the output's handshake
        reached the root's hundreds of enables through two LUT levels: the d=16 and d=32
        macros' critical path): a sum enters only with a place reserved in a fall-through
        FIFO (:attr:`_tail_places`; ``sums.ready`` is the register of a count of the places
        taken, :func:`~axelram.hdl.pipeline.counter_below`), which ``o`` reads. The FIFO's
        write is the tail's last stage (its RAM holds what the last registers would), so the
        latency is the stall pipeline's."""
        m.submodules.tail = fifo = DistributedFIFO(width=len(self.o.payload.as_value()),
                                                   depth=self._tail_places, fall_through=True)
        taken = Signal()
        freed = Signal()
        m.d.comb += [sums.ready.eq(counter_below(m, taken, freed, fifo.depth)),
                     taken.eq(sums.valid & sums.ready)]
        m.d.sync += freed.eq(self.o.valid & self.o.ready)
        valid = taken
        for _ in range(self._tail_stages - 1):
            valid = register(m, 1, valid)
        payload = Signal.like(self.o.payload)
        last = partial(_wire, m)
        if self._params.norm_rounded:
            self._encode(m, 1, self._root_pipeline(m, 1, sums.payload), payload, last)
        else:
            self._encode(m, 1, self._root_pipeline(m, 1, sums.payload, last), payload)
        m.d.comb += [
            fifo.w_en.eq(valid),
            fifo.w_data.eq(payload),
            self.o.valid.eq(fifo.r_rdy),
            self.o.payload.eq(fifo.r_data),
            fifo.r_en.eq(self.o.ready),
        ]

    def _unstalled_front(self, m, lane_sums):
        """The squarers and the lane tree without a stall signal (no handshake reaches their
        registers): a beat enters only with a place for its sum reserved in a FIFO behind them
        (a count of the beats entered and not yet taken from it, and ``i.ready`` a register
        beside it, :func:`~axelram.hdl.pipeline.counter_below`)."""
        front = self._front_stages
        # A sum's place counts as free a cycle after the sum is taken (`freed`, a register), so
        # that the FIFO's flag and the accumulator's `blocked` reach the counter's adder from
        # a flip-flop (through a LUT they took 2.6 ns of routing at one lane); one more place
        # keeps a beat per cycle.
        m.submodules.lane_sums = fifo = DistributedFIFO(
            width=len(lane_sums.payload), depth=front + self._LANE_SUMS_FIFO + 2)
        entered = Signal()
        taken = Signal()
        freed = Signal()
        room = counter_below(m, entered, freed, fifo.depth)
        m.d.sync += freed.eq(taken)
        valid = entered
        for _ in range(front):
            valid = register(m, 1, valid)
        m.d.comb += [
            self.i.ready.eq(room),
            entered.eq(self.i.valid & self.i.ready),
            fifo.w_en.eq(valid),
            fifo.w_data.eq(self._squares(m, 1)),
            lane_sums.valid.eq(fifo.r_rdy),
            lane_sums.payload.eq(fifo.r_data),
            fifo.r_en.eq(lane_sums.ready),
            taken.eq(fifo.r_rdy & lane_sums.ready),
        ]

    def _squares(self, m, advance):
        """The sum of the beat's squares: a register before the squarers (for shift-and-add
        squarers, of the ones' complements and signs, then one of the magnitudes), the
        squarers (shift-and-add stages, or a multiplier and its output register), one register
        per tree level."""
        p = self._params
        stage = partial(register, m, advance)
        if self._fabric_squarers:
            # k**2 = |k|**2, |k| = (k ^ s) + s for the sign s: the ones' complement (a LUT level
            # from the producer's output, no carry) and the sign are registered, then the
            # magnitude (an incrementer, with no choice after its carry chain, which abs(k) had:
            # the one-lane unit's critical path). Every partial sum of the shifted terms is at
            # most k**2: one width for all.
            beat = [(stage(k[:-1] ^ k[-1].replicate(len(k) - 1)), stage(k[-1]))
                    for k in self.i.payload]
            beat = [stage(c + s, unsigned(p.in_width)) for c, s in beat]
            square_stage = partial(register, m, advance, shape=p.norm_tree_width(0))
            values = [shift_add_mul(k, k, square_stage) for k in beat]
        else:
            beat = [stage(k, k.shape()) for k in self.i.payload]
            values = [stage(k * k, p.norm_tree_width(0)) for k in beat]
        level = 0
        while len(values) > 1:
            level += 1
            values = [stage(a + b, p.norm_tree_width(level))
                      for a, b in zip(values[0::2], values[1::2], strict=True)]
        return values[0]

    def _accumulate(self, m, lane_sums, sums):
        """The key's sum of squares over its beats, from the beats' sums: one sum per key."""
        beats = self.beats
        # The accumulator adds every beat's sum and is never cleared (it counts modulo
        # 2**norm_sq_width): a key's sum is the difference of its values after the key's last
        # beat and after the previous key's, which goes into the output registers (`sums`) the
        # cycle after the last beat (`done`). So no choice comes before or after the
        # accumulator's carry chain. A key's sum fits norm_sq_width bits: the difference is
        # exact. So that `lane_sums.ready` is a LUT of registers, not a function of the root's
        # handshake, it takes a key's last beat (`last`, a flag beside the beat counter
        # `phase`) only while the output register is empty: it is then empty still as `done`
        # loads it, since no sum was done in between. The sum is taken when it is valid,
        # nothing stalling, so the next key's last beat finds it empty when it comes at least
        # three cycles after the previous key's; with two beats a key it may come as the sum
        # is taken. With more, `lane_sums.ready` is a register itself (`blocked`, loaded with
        # the next `last & sums.valid`), so that the lane sums' FIFO's read enable comes from a
        # flip-flop, not from the output register's handshake.
        # `phase == d/L - 2` is a LUT of registers: the comparisons of `phase` with d/L - 2 and
        # d/L - 3, registered, chosen by whether a beat was added then (`was_added`).
        phase = Signal(range(beats))
        last = Signal()
        next_last = Signal()
        done = Signal()
        added = Signal()
        was_added = Signal()
        before = (beats - 3) % beats        # the phase before d/L - 2 (it wraps)
        was_penultimate = Signal(init=beats == 2)
        was_before = Signal(init=before == 0)
        m.d.sync += [was_added.eq(added), was_penultimate.eq(phase == beats - 2),
                     was_before.eq(phase == before)]
        penultimate = Mux(was_added, was_before, was_penultimate)
        m.d.comb += [added.eq(lane_sums.valid & lane_sums.ready),
                     next_last.eq(Mux(added, penultimate, last))]
        if beats == 2:
            m.d.comb += lane_sums.ready.eq(~last | ~sums.valid | sums.ready)
        else:
            blocked = Signal()
            m.d.sync += blocked.eq(next_last & (done | sums.valid & ~sums.ready))
            m.d.comb += lane_sums.ready.eq(~blocked)
        with m.If(added):
            m.d.sync += phase.eq(phase + 1)    # d/L is a power of two: it wraps
        m.d.sync += [last.eq(next_last), done.eq(added & last)]
        # The accumulator is kept in carry-save form, in halves whose carry chains are half as
        # long: the low half's carry out (`carry`) enters the high half at the next addition,
        # so the accumulator is ((high + carry) << half) + low. A key's sum, the difference of
        # two such values, is formed in two steps, each one carry chain from registers: at
        # `done`, the low halves' difference (its borrow above it), the carry and the high
        # halves' difference from the previous key's high value (`high_before`, high + carry at
        # the previous `done`) are registered; as the sum is read, the high part is that
        # difference plus the carry minus the borrow (the borrow replicated, the carry the
        # chain's carry in).
        width = len(sums.payload)
        half = width // 2
        x = lane_sums.payload
        low = Signal(half)
        high = Signal(width - half)
        carry = Signal()
        low_before = Signal(half)
        high_before = Signal(width - half)
        low_sum = Signal(half + 1)
        carried = Signal()
        high_diff = Signal(width - half)
        with m.If(added):
            m.d.sync += [Cat(low, carry).eq(low + x[:half]),
                         high.eq(add_carry(high, x[half:], carry))]
        borrow = low_sum[half]
        m.d.comb += sums.payload.eq(Cat(
            low_sum[:half], add_carry(high_diff, borrow.replicate(len(high_diff)), carried)))
        with m.If(done):
            m.d.sync += [
                low_sum.eq(low - low_before),
                carried.eq(carry),
                high_diff.eq(high - high_before),
                low_before.eq(low),
                high_before.eq(add_carry(high, Const(0, len(high)), carry)),
                sums.valid.eq(1),
            ]
        with m.Elif(sums.ready):
            m.d.sync += sums.valid.eq(0)

    def _root_pipeline(self, m, advance, norm_sq, last=None):
        """The root of ``norm_sq << 2*norm_frac``, one :func:`_root_step` per pipeline stage
        (the last one ``last``'s, when given: ``last(value, shape)``)."""
        p = self._params
        width = p.norm_width
        stage = partial(register, m, advance)
        radicand = Signal(2 * width)
        m.d.comb += radicand.eq(norm_sq << (2 * p.norm_frac))
        rem, lag, rest = Const(-1, signed(1)), Const(0, 0), radicand
        for i in reversed(range(width)):
            rem, lag = _root_step(rem, lag, rest[2 * i:2 * i + 2], width - i + 2)
            keep = last if i == 0 and last is not None else stage
            rem, lag = keep(rem, signed(width - i + 2)), keep(lag, width - i)
            if i:
                rest = stage(rest[:2 * i], 2 * i)
        # The root is the last lag and the last bit; the lag's top bit is q's initial 0.
        return Cat(~rem[-1], lag)[:width]

    def _serial_root(self, m, sums, roots):
        """The roots of the sums, one :func:`_root_step` per two cycles: ``2 norm_width + 2``
        cycles each.

        A sum is taken when the stepper is idle and holds no finished root, and loaded the
        cycle after (``took``: remainder and root cleared, the first step's operand set, which
        is that step's first cycle); ``steps`` is a one-hot count of the steps still to do, its
        bit 0 the last step's flag (no counter's adder or comparison comes before ``idle`` and
        ``finished``); a finished root moves to the output register ``roots.payload`` once that
        is empty (not in the cycle its root is taken: a cycle a key has to spare). Every
        condition the stepper's registers load on is a function of registers (``took``,
        ``running``, ``adding``; ``running`` rises on the take, of ``sums.valid``, ``idle`` and
        ``finished``), the hand-over one of two (``finished``, ``roots.valid``): the output's
        handshake reaches only ``roots.valid``. The sum is loaded from ``radicand``, a register
        of the sums' payload every cycle, so the last adder at the accumulator's output and
        the stepper's registers are a register apart. A step's first cycle registers the adder's
        operand from the remainder's sign (and takes the root bit), its second adds: the adder
        reads only registers, and no signal that its sum forms fans out in the same cycle. The
        sum's radicand bits leave ``rest`` from the top, two per step; its ``2 * norm_frac``
        zero bits below come in as the shifted-in zeros. Registers: remainder and operand
        ``W + 2`` each, root ``W - 1`` (its last bit is the remainder's sign), output ``W``,
        radicand ``2 * (W - norm_frac)`` bits and the stepper's copy of it (``rest`` and
        ``lead``) one bit more, steps ``W`` for ``W = norm_width`` (195 for d=128,
        in_width=16), and six flags.
        """
        p = self._params
        width = p.norm_width
        # No reset, and their initial values the load's, so that the load is the flip-flops'
        # set or reset alone.
        rem = Signal(signed(width + 2), init=-1, reset_less=True)
        addend = Signal(signed(width + 2))
        lag = Signal(width - 1, reset_less=True)    # the root without its last bit (_root_addend)
        radicand = Signal(2 * (width - p.norm_frac))    # the sums' payload, a cycle late
        # The radicand's bits below its next pair, and that pair ``q`` as the next step's adder
        # takes it: ``(q - 1) % 4`` and ``q != 0`` (see below).
        rest = Signal(len(radicand) - 2)
        lead = Signal(3)
        steps = Signal(width)               # one-hot: bit k set with k + 1 steps to do
        # `running` is `~idle`, a register of its own: `idle` for the handshake, `running` for
        # the enables of the stepper's hundred registers. Both `keep` (their wires stay whole:
        # without it Yosys mapped the stepper's control in 17 more LUT4s at d=128, one lane).
        idle = Signal(init=1, attrs={"keep": 1})
        running = Signal(attrs={"keep": 1})
        finished = Signal()
        take = Signal()
        hand_over = Signal()
        took = Signal()                     # `take`, a cycle late
        adding = Signal()                   # the step's second cycle
        m.d.comb += [
            sums.ready.eq(idle & ~finished),
            take.eq(sums.valid & sums.ready),
            hand_over.eq(finished & ~roots.valid),
        ]
        m.d.sync += [took.eq(take), radicand.eq(sums.payload)]
        with m.If(take):
            m.d.sync += [idle.eq(0), running.eq(1)]
        next_addend, root = _root_addend(rem, lag, width + 2)
        first_addend, _ = _root_addend(Const(-1, rem.shape()), Const(0, len(lag)), width + 2)
        with m.If(took):
            m.d.sync += [rem.eq(-1), lag.eq(0), addend.eq(first_addend),
                         steps.eq(1 << (width - 1)), adding.eq(1)]
        # `adding` is high only while `running` (it drops with `running` at the last step).
        with m.Elif(adding):
            # The step's adder, `Cat(q, rem) + addend` with `addend`'s low bits 0b11: the low
            # bits are (q + 3) % 4, the carry out of them q != 0, the carry in of `rem +
            # addend[2:]`, which needs only the remainder's low `width` bits.
            m.d.sync += [
                rem.eq(Cat(lead[:2], add_carry(rem[:width], addend[2:], lead[2])[:width])),
                steps.eq(steps >> 1),
                adding.eq(0),
            ]
            with m.If(steps[0]):
                m.d.sync += [idle.eq(1), running.eq(0), finished.eq(1)]
        with m.Elif(running):
            m.d.sync += [addend.eq(next_addend), lag.eq(root), adding.eq(1)]
        # `rest` and `lead` load on `took` or `adding` alone: a LUT of two registers for their
        # enables. They load from `radicand`, a register that the sum's last adder (in the
        # accumulator) reaches, not the stepper's: the sum's registers hold it from its take
        # until another key's sum is done, after the take.
        def lead_of(pair):
            return Cat((pair - 1)[:2], pair != 0)
        with m.If(took):
            m.d.sync += [rest.eq(radicand[:-2]), lead.eq(lead_of(radicand[-2:]))]
        with m.Elif(adding):
            m.d.sync += [rest.eq(rest << 2), lead.eq(lead_of(rest[-2:]))]
        with m.If(hand_over):
            m.d.sync += [roots.payload.eq(Cat(~rem[-1], lag)), roots.valid.eq(1),
                         finished.eq(0)]
        with m.Elif(roots.ready):
            m.d.sync += roots.valid.eq(0)

    @property
    def shift_add_multipliers(self) -> int:
        """Squarers built of shifts and adds, which a netlist shows as adders, not as
        multiplier cells: ``L`` with fabric squarers, else 0."""
        return self._lanes if self._fabric_squarers else 0

    @property
    def _fabric_squarers(self) -> bool:
        return (self._lanes <= FABRIC_SQUARER_LANES
                and self._params.score_multiplier == "fabric")

    @property
    def _square_stages(self) -> int:
        """The squarers' input register, then the magnitudes' and the shift-and-add stages, or a
        multiplier's output register."""
        if self._fabric_squarers:
            return 2 + shift_add_depth(self._params.in_width)
        return 2

    # The reduced-float encoder: the leading one's position, the bits below it (a shift by that
    # position, in two steps), the rounding (an incrementer), the renormalization, each a
    # registered stage.
    _ENCODER_STAGES = 5

    def _encode(self, m, advance, norm, payload=None, last=None):
        """``payload`` (default ``o.payload``) from the norm: the norm itself, or (``advance``
        the registers' load condition) the norm and its reduced float, through the encoder's
        five stages (the last one ``last``'s, when given: ``last(value, shape)``)."""
        p = self._params
        payload = self.o.payload if payload is None else payload
        last = partial(register, m, advance) if last is None else last
        if not p.norm_rounded:
            m.d.comb += [payload.norm.eq(norm), payload.field.eq(norm)]
            return

        # Reduced float, as golden float_encode: e0 = max(bit_length(N) - M, 0) by priority
        # (the highest set bit wins), t = N >> (e0 - 1) with M + 1 bits (2N when e0 = 0), the
        # mantissa (t + 1) >> 1 rounds to nearest with ties up; a carry into bit M renormalizes.
        width, mantissa = p.norm_width, p.norm_mantissa
        stage = partial(register, m, advance)
        e0 = Signal(range(width - mantissa + 1))
        m.d.comb += e0.eq(0)
        for e in range(1, width - mantissa + 1):
            with m.If(norm[mantissa + e - 1]):
                m.d.comb += e0.eq(e)
        e0, held = stage(e0, e0.shape()), stage(norm, width)
        # The shift by e0 in two registered steps, by its multiple of four, then by the rest: a
        # four-way multiplexer per bit each, where one shift would be a LUT tree of twelve ways.
        coarse = Signal(mantissa + 4)
        m.d.comb += coarse.eq((held << 1) >> Cat(Const(0, 2), e0[2:]))
        e0, coarse, held = (stage(e0, e0.shape()), stage(coarse, coarse.shape()),
                            stage(held, width))
        t = Signal(mantissa + 1)
        m.d.comb += t.eq(coarse >> e0[:2])
        e0, t = stage(e0, e0.shape()), stage(t, t.shape())
        # The rounding, then the renormalization: a carry into bit M (t all ones) leaves the
        # sum's low M bits clear, so the mantissa's top bit is the carry or bit M - 1, and the
        # exponent e0 + 1 (registered beside the sum) or e0.
        e0, e1, rounded = (stage(e0, p.exponent_width), stage(e0 + 1, p.exponent_width),
                           stage((t + 1) >> 1, mantissa + 1))
        carry = rounded[mantissa]
        field = Cat(rounded[:mantissa - 1], rounded[mantissa - 1] | carry, Mux(carry, e1, e0))
        m.d.comb += [
            payload.norm.eq(last(stage(stage(held, width), width), width)),
            payload.field.eq(last(field, p.norm_field_width)),
        ]


def _wire(m, value, shape) -> Signal:
    """``value`` as a signal of ``shape``, not registered: a pipeline's last stage when a
    memory's write is its register."""
    wire = Signal(shape)
    m.d.comb += wire.eq(value)
    return wire


def _root_step(rem, lag, pair, width: int):
    """One digit of the square root of a radicand taken two bits at a time from the top,
    non-restoring.

    ``rem`` is the signed remainder; the root so far is ``q = lag << 1 | (rem >= 0)``: its
    last bit, 1 when the step that made it left a non-negative remainder, is read from
    ``rem``'s sign, so no register waits for the adder's sign to form a root bit. With
    ``pair`` the next two radicand bits and ``R = rem << 2 | pair``, the new remainder is
    ``R - (4q + 1)`` if ``rem >= 0``, else ``R + (4q + 3)``: one adder of ``R`` and
    :func:`_root_addend`. The root bits are those of the restoring method (``R >= 4q + 1``).
    Start from ``rem = -1``, ``lag = 0`` (which is ``q = 0``). Returns ``(remainder, q)``,
    ``q`` the next step's ``lag``; the remainder ``signed(width)``: after step ``i`` (counting
    down) of a ``W``-bit root it lies in ``[-2**(W - i + 1), 2**(W - i + 1))``, so ``width =
    W - i + 2`` holds it, and ``q`` has ``width - 2`` bits.
    """
    addend, root = _root_addend(rem, lag, width)
    return (Cat(pair, rem).as_signed() + addend)[:width].as_signed(), root


def _root_addend(rem, lag, width: int):
    """The operand of a root step's adder, ``-(4q + 1)`` or ``4q + 3`` (``Cat(0b11, q ^ s,
    s...)`` in ``width`` bits, ``s`` all ones when ``rem >= 0``), and ``q`` (:func:`_root_step`).
    """
    subtract = ~rem[-1]
    root = Cat(subtract, lag)
    addend = Cat(Const(3, 2), root ^ subtract.replicate(len(root)),
                 subtract.replicate(width - 2 - len(root))).as_signed()
    return addend, root
