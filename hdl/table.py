"""The query table: the rotated query times every positive centroid, by shifts and adds,
written into the score datapath's table memory one entry per coordinate and cycle, on
several write channels at once."""

from functools import partial, reduce
from operator import or_

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .arith import const_mul, csd, tree_depth, wrap_increment
from .pipeline import Folded, flow, register

__all__ = ["QueryTable", "fill_channels", "fill_layout"]


def fill_channels(params: Params, lanes: int) -> int:
    """Write channels of the query table: ``min(2**(b-1), d / lanes)``. Channel ``c`` writes
    the coordinates of the beats ``k`` with ``k mod channels == c``."""
    return min(params.half, params.d // lanes)


def fill_layout(params: Params, lanes: int) -> data.StructLayout:
    """One write on a channel of the query table: ``values[l]`` is entry ``entry`` (of the
    positive half) of coordinate ``beat * lanes + l``, in table bank ``bank``."""
    return data.StructLayout({
        "values": data.ArrayLayout(signed(params.table_entry_width), lanes),
        "entry": range(params.half),
        "beat": range(params.d // lanes),
        "bank": 1,
    })


class QueryTable(Folded, wiring.Component):
    """``P[j][c] = round_shift(z_j * centroids_fixed[c], table_shift)``: the positive half only,
    written entry by entry into one of two table banks, on ``C`` channels at once.

    The golden table :func:`axelram.golden.fixed.query_table` has ``d * 2**b`` entries, but its
    negative half is the exact negation of the positive half (``P[j][half-1-c] = -P[j][half+c]``),
    so only the ``d * 2**(b-1)`` positive entries are built (512 instead of 1024 for d=128, b=3);
    :class:`~axelram.hdl.score.ScoreDatapath` negates on lookup and holds the entries, in two
    banks of LUT RAM, one memory per coordinate: while the store is read against one query's
    table in one bank, the next query's is written into the other. Entry ``c`` of coordinate
    ``j`` is golden ``query_table(z, params)[j][half + c]``, rounded to nearest with ties toward
    +inf.

    The query arrives in beats of ``L = lanes`` coordinates, ``d / L`` beats per query; beat ``k``
    carries coordinates ``k*L .. k*L + L - 1`` (lane ``l`` is coordinate ``k*L + l``), and a
    query is ``d / L`` consecutive beats counted from reset. A coordinate's memory takes one
    write per cycle, so a beat's ``half`` entries take ``half`` cycles; the beats are written
    skewed, on ``C = min(half, d / L)`` channels (:func:`fill_channels`): beat ``k`` on channel
    ``k mod C``, entry ``e`` in the ``e``-th cycle after its first. A beat stays on ``i`` for
    ``H = half / C`` cycles (:attr:`hold`; it is taken in the last), so that the beats of one
    channel never overlap: ``H = 1``, a beat per cycle, whenever ``d / L >= half``. Entry ``e``
    of a beat is its product by centroid ``e``, from the beat registered, then delayed by
    ``(e // H) H`` cycles (a delay line of ``half - H`` registers per lane behind the input
    register, tapped every ``H``), by a
    canonical-signed-digit shift-and-add tree (no multiplier), pipelined: the shifted terms are
    registered, then every level of their sum, one adder per stage, shorter trees padded to the
    longest. Each channel selects the entry of its beat of the cycle, in ``S`` registered
    four-way steps (``S = 1``, or 2 at b=4), then rounds it into its write on ``fill[c]`` (a
    register). Nothing in the pipeline stalls.

    ``o`` carries the bank of each complete table: ``o.valid`` rises the cycle after its last
    write. Once a query's last beat is taken, ``i.ready`` stays low until its table is taken on
    ``o``, which tells that the previous table's bank is no longer read: the next query's table
    is written there. The first table goes to bank 0. ``o.valid`` is a register; ``o`` may be
    held for any number of cycles.

    Latency :attr:`latency` ``= 4 + S + max tree_depth(CSD digits) + half - H`` cycles from the
    transfer of a query's last beat to ``o.valid``. Throughput one beat per ``H`` cycles; the
    next query's first beat is on ``i`` from the cycle after its table is taken, so with ``o``
    taken at once one query per ``H d / L + latency`` cycles.

    Arithmetic for the ``L`` lanes: ``L * sum(len(csd(c)) - 1)`` constant-product adders (the
    negative CSD digits as subtractions); per channel, ``L`` rounding incrementers (none when
    ``table_shift`` is 0) and ``L`` ``half``-way entry multiplexers; the incrementers of the
    two beat counters (the handshake's and the delay line's) when ``L < d`` and the hold
    counter's when ``H > 1``. Registers: the delay line (``L (half - H)`` coordinates); per lane
    and centroid, the CSD terms and every level of their sum (the products' full width); per
    channel, the ``L`` selected products (at b=4 also both halves' four-way selections) and the
    write (``L`` entries and its address); the counters and the control's delay registers; the
    input register (``L`` coordinates and the beat's control).

    Parameters
    ----------
    params : Params
        ``d``, ``b``, the codebook and ``table_width`` are used.
    lanes : int or None
        ``L``, a power of two in ``1..d``; ``None`` means ``d``.

    Members
    -------
    i : In(stream.Signature(ArrayLayout(signed(rotated_width), L)))
        One beat of the rotated query ``z`` (the :class:`~axelram.hdl.rotator.Rotator` output,
        or a :class:`~axelram.hdl.stream_rotator.StreamRotator` beat).
    fill : Out(flow(fill_layout(params, L))).array(C)
        The table's writes, on each channel one per cycle at most, to the score datapath's
        ``fill``.
    o : Out(stream.Signature(1))
        The bank of a complete table.
    """

    def __init__(self, params: Params, lanes: int | None = None):
        lanes = self._fold(params, lanes)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(params.rotated_width), lanes))),
            "fill": Out(flow(fill_layout(params, lanes))).array(fill_channels(params, lanes)),
            "o": Out(stream.Signature(1)),
        })

    @property
    def channels(self) -> int:
        """``C``, the write channels (:func:`fill_channels`)."""
        return fill_channels(self._params, self._lanes)

    @property
    def hold(self) -> int:
        """``H``, the cycles a beat stays on ``i``: ``half / C``."""
        return self._params.half // self.channels

    @property
    def latency(self) -> int:
        """Cycles from a query's last beat to ``o.valid``: the input register, its last
        entry's delay, the terms, the levels of the deepest product tree, the selected entry,
        the write, and the cycle that writes it."""
        return 4 + self._select_depth + self._product_depth + self._params.half - self.hold

    @property
    def _select_depth(self) -> int:
        """Registered four-way steps of the entry multiplexer: 1, or 2 at b=4."""
        return max(1, self._params.half.bit_length() // 2)

    @property
    def _product_depth(self) -> int:
        """Adder levels of the deepest centroid product."""
        return max(tree_depth(len(csd(int(c)))) for c in self._params.centroids_fixed)

    def elaborate(self, platform):
        p, hold, channels = self._params, self.hold, self.channels
        m = Module()
        stage = partial(register, m, 1)

        # A beat is on `i` for `hold` cycles: `shown` counts them, and `i.ready` (a register)
        # is high in the last, when the beat is taken. `open` is low from a query's last
        # beat taken to its table taken on `o`.
        shown = Signal(range(hold))
        beat = Signal(range(self.beats))
        ready = Signal(init=hold == 1)
        open_ = Signal(init=1)
        write = Signal()
        last_beat = beat == self.beats - 1
        m.d.comb += [self.i.ready.eq(ready), write.eq(self.i.valid & open_)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [open_.eq(1), ready.eq(hold == 1), self.o.valid.eq(0)]
        with m.Elif(write & ready):
            m.d.sync += [shown.eq(0), ready.eq((hold == 1) & ~last_beat), open_.eq(~last_beat),
                         beat.eq(Mux(last_beat, 0, beat + 1))]
        if hold > 1:
            with m.Elif(write):
                m.d.sync += [shown.eq(shown + 1), ready.eq(shown == hold - 2)]

        # The delay line: tap `g` is the beat on `i` and its control `g * hold + 1` cycles ago,
        # the input of the products by centroids g * hold .. g * hold + hold - 1. A beat passes
        # through every tap, one per `hold` cycles, so its entry of the cycle is that of the
        # tap it is at and of its cycle there (its `shown`). Tap 0 is a register, and its
        # control is made of registers: the handshake registered (`wrote`, `took`, `shown_then`)
        # and a second beat counter, `line_beat`, one cycle behind `beat`. Only flip-flops lie
        # between `ready` and the line, which spreads over the die (the rotator's `r_rdy` through
        # the channel flags crossed 19 rows in the one-lane d=64, b=4 macro: 3 LUTs and 3.8 ns of
        # routing; `ready` to `beat`'s enable, 23 rows in d=128, b=3: 4.0 ns).
        def taps(value) -> list:
            line = [value]
            for _ in range(channels - 1):
                for _ in range(hold):
                    value = stage(value)
                line.append(value)
            return line

        low_bits = channels.bit_length() - 1
        coordinates = [taps(stage(z)) for z in self.i.payload]
        wrote, shown_then = stage(write), stage(shown)
        line_beat = Signal(range(self.beats))
        if self.beats > 1:
            took = stage(write & ready)
            with m.If(took):
                m.d.sync += line_beat.eq(wrap_increment(line_beat, self.beats))
        taken = Cat(wrote & (line_beat[:low_bits] == c) for c in range(channels))
        controls = [data.View(_control_layout(channels, self.beats, hold), tap)
                    for tap in taps(Cat(taken, shown_then, line_beat))]

        s = p.table_shift
        products = []
        for line in coordinates:
            lane = []
            for e, c in enumerate(p.centroids_fixed):
                product = const_mul(line[e // hold], int(c), stage, drop=max(s - 1, 0))
                for _ in range(self._product_depth - tree_depth(len(csd(int(c))))):
                    product = stage(product)
                lane.append(product)
            products.append(lane)

        # Channel `c` writes the beat at the tap where it was taken on channel `c` (its beat
        # number is `c` modulo `channels`; one tap at most: a channel's beats are `half` cycles
        # apart or more), entry `tap * hold + shown`. The channel is a one-hot flag on the
        # delay line, so that a tap's hit is a flip-flop (comparing the beat's low bits at
        # every tap was the b=4 macros' critical path at d=16 and 32: 4.8 ns). Its write, and
        # whether it completes the table (the last beat's last entry, on the last channel),
        # are delayed beside the products.
        finishing = controls[-1]
        complete = (finishing.channel[-1] & (finishing.beat == self.beats - 1)
                    & (finishing.shown == hold - 1))
        for _ in range(2 + self._select_depth + self._product_depth):
            complete = stage(complete)
        bank = Signal()
        for c, fill in enumerate(self.fill):
            hits = [(g, tap.channel[c], tap) for g, tap in enumerate(controls)]
            at = Signal(_write_layout(p, self.beats))
            m.d.comb += [
                at.write.eq(reduce(or_, [hit for _, hit, _ in hits])),
                at.entry.eq(reduce(or_, [Mux(hit, g * hold + tap.shown, 0)
                                         for g, hit, tap in hits])),
                at.beat.eq(Cat(Const(c, low_bits),
                               reduce(or_, [Mux(hit, tap.beat[low_bits:], 0)
                                            for _, hit, tap in hits]))),
            ]
            for _ in range(1 + self._product_depth):
                at = stage(at)
            # The entry selected and registered (a multiplexer and the rounding's carry chain
            # in one cycle were the d=128, b=4 macro's critical path: 6.5 ns), then rounded:
            # round_shift(x, s) = (x + 2**(s-1)) >> s = ((x >> (s-1)) + 1) >> 1 (it fits
            # table_entry_width): the products keep only their bits from s-1 up. With
            # table_shift 0 the product goes in as it is.
            chosen = [_select(lane, at.entry, stage) for lane in products]
            values = [((v + 1) >> 1) if s else v for v in chosen]
            for _ in range(self._select_depth):
                at = stage(at)
            m.d.sync += [
                fill.valid.eq(at.write),
                fill.payload.entry.eq(at.entry),
                fill.payload.beat.eq(at.beat),
                *(v.eq(value) for v, value in zip(fill.payload.values, values, strict=True)),
            ]
            m.d.comb += fill.payload.bank.eq(bank)
        with m.If(complete):
            m.d.sync += self.o.valid.eq(1)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += bank.eq(~bank)
        m.d.comb += self.o.payload.eq(bank)
        return m


def _select(values: list, index, stage):
    """``values[index]``, registered after every four-way step (an eight-way multiplexer in
    one cycle, three or four LUT levels, was the b=4 macros' critical path: 4.9 ns at d=16)."""
    while True:
        values = [stage(Array(values[i:i + 4])[index[:2]]) for i in range(0, len(values), 4)]
        if len(values) == 1:
            return values[0]
        index = stage(index[2:])


def _control_layout(channels: int, beats: int, hold: int) -> data.StructLayout:
    """A beat's control on the delay line: bit ``c`` of ``channel`` set if the table took it
    this cycle on channel ``c``, its cycle on ``i``, its number."""
    return data.StructLayout({"channel": channels, "shown": range(hold), "beat": range(beats)})


def _write_layout(p: Params, beats: int) -> data.StructLayout:
    """A channel's write before its values: whether it writes, the entry, the beat."""
    return data.StructLayout({"write": 1, "entry": range(p.half), "beat": range(beats)})
