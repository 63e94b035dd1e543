"""The score datapath: the query table in LUT RAM, d half-table lookups, a pipelined adder tree
and the norm scaling."""

from functools import partial

from amaranth.hdl import C, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .arith import shift_add_depth, shift_add_mul
from .pipeline import Folded, copies, flow, register
from .table import fill_channels, fill_layout

__all__ = ["ScoreDatapath"]

#: Bits of a looked-up entry decoded by one copy of the decode register. A copy drives the
#: lookups of its bits only, so that it sits among them: one copy for all 18 bits of an entry
#: spanned the lookups of its coordinate (4.0 ns of routing at d=128).
LOOKUP_GROUP = 6

#: Lookups summed by each operand from which an adder-tree level takes its operands through one
#: more register (a hop): such sums lie far apart over the die (at d=128, a sum of 32 lookups
#: ran 2.5 to 2.8 ns of routing to its adder in two of three placements). A hop for the sums of
#: 16 as well took the d=128 macro's score FIFO past 32 places (a 64-entry LUT RAM, whose read
#: then limited the clock to 178 MHz).
TREE_HOP_LOOKUPS = 32

#: Coordinates written through one registered copy of a write on ``fill``: at one lane, a
#: write's entry goes to every coordinate's memory, over the whole die (one register for all of
#: them, or a decode of the beat before the copies, ran 3.2 to 4.0 ns of routing at d=128).
FILL_GROUP = 8

#: Copies of each row's table bank, each addressing the memories of ``d / BANK_COPIES``
#: coordinates.
BANK_COPIES = 64


class ScoreDatapath(Folded, wiring.Component):
    """``score = sum_j P[j][idx_j] * N_stored`` of one packed row per cycle, from a query table
    held in two banks of LUT RAM.

    Matches :func:`axelram.golden.fixed.score` bit for bit, from the positive half of the query
    table only (``d * 2**(b-1)`` entries, 512 instead of 1024 for d=128, b=3), which the
    :class:`~axelram.hdl.table.QueryTable` writes on ``fill``. Each coordinate's entries, of both
    banks, are a memory of ``2**b`` words (in its :data:`LOOKUP_GROUP`-bit slices), written once
    per cycle and read asynchronously at the row's index: one LUT RAM lookup per coordinate, so
    the table costs no flip-flops and no multiplexers. A row names its bank, so the next query's
    table is written into the other bank while this one's rows are scored.

    Writes: the table comes on ``C`` channels (:func:`~axelram.hdl.table.fill_channels`),
    channel ``c`` writing the coordinates of the beats ``k`` with ``k mod C == c``, each one
    entry of ``L`` coordinates per cycle at most, in any order and at any time relative to the
    other channels. A write valid on ``fill[c]`` in cycle ``w`` reaches the memories at the end
    of cycle ``w + W``, :attr:`write_lag`: 2 above :data:`FILL_GROUP` coordinates (through two
    registers, :func:`~axelram.hdl.pipeline.copies`, one copy per group and channel), else 0.
    A row valid on ``i`` in cycle ``r`` reads its bank as written by the writes valid up to
    cycle ``r - W``; none later reach it.

    Latency :attr:`latency` ``= log2(d) + 5 + H + D`` cycles: decode (the index's half-table
    address and sign), lookup, ``log2(d)`` adder-tree levels (the ``H = max(0, log2(d) - 5)``
    levels whose operands each sum :data:`TREE_HOP_LOOKUPS` lookups or more take them through
    one more register; the count of negated lookups takes its ``H`` after its root),
    the corrected sum (with the significand, the multiplier's input registers), the
    multiplication's ``D`` registers, then the exponent's shift in two steps (by its low bits,
    then by its high bits into the output register). ``D`` is
    ``1 + ceil(log2(m))`` for an ``m``-bit significand with ``params.score_multiplier =
    "fabric"`` (shift-and-add, :func:`~axelram.hdl.arith.shift_add_mul`: ``m`` partial
    products, ``m - 1`` adders; 5 at ``m = 12``), 2 with ``"dsp"`` (a multiplier
    whose output registers a DSP block absorbs). Throughput one score per cycle. Nothing
    stalls: ``i`` and ``o`` are streams without backpressure
    (:func:`~axelram.hdl.pipeline.flow`), every register loads every cycle, and each row valid
    on ``i`` leaves as a score on ``o`` exactly :attr:`latency` cycles later, valid for that
    cycle only (the user makes room for it beforehand: :class:`~axelram.hdl.macro.Macro` issues
    a read only with a place for its score reserved in its output FIFO). Operations: ``d``
    half-table lookups with a conditional ones' complement, ``d - 1`` adders of the entries,
    ``d - 1`` narrow adders that count the negated lookups and one correction adder, one true
    multiplication (``sum * m``) and a barrel shifter over ``exponent_max + 1`` positions.

    Parameters
    ----------
    params : Params
    lanes : int or None
        The lanes of the writes on ``fill`` (the query table's), a power of two in ``1..d``;
        ``None`` means ``d``.

    Members
    -------
    fill : In(flow(fill_layout(params, lanes))).array(C)
        Writes of the positive half of the query table: ``values[l]`` is ``P[j][half + entry]``
        of coordinate ``j = beat * lanes + l`` in bank ``bank``; on ``fill[c]``, ``beat mod C``
        must be ``c`` (only the bits above are decoded).
    i : In(flow(StructLayout({"row": unsigned(row_width), "bank": 1})))
        Packed rows (:func:`axelram.golden.fixed.pack_rows`: index ``j`` in bits
        ``[j*b, (j+1)*b)``, the norm field above ``d*b``) and the table bank to score them with.
    o : Out(flow(signed(score_width)))
        One score per row, in order.
    """

    def __init__(self, params: Params, lanes: int | None = None):
        lanes = self._fold(params, lanes)
        super().__init__({
            "fill": In(flow(fill_layout(params, lanes))).array(fill_channels(params, lanes)),
            "i": In(flow(data.StructLayout({"row": params.row_width, "bank": 1}))),
            "o": Out(flow(signed(params.score_width))),
        })

    @property
    def latency(self) -> int:
        """Decode, lookup, adder tree with its hops, the corrected sum, the multiplier, the two
        shift steps."""
        return 2 + self._params.log2_d + self._tree_hops + 1 + self._multiplier_depth + 2

    @property
    def write_lag(self) -> int:
        """Cycles from a write on ``fill`` to the cycle that writes it into the memories: the two
        levels of copies with more than one group of :data:`FILL_GROUP` coordinates, else none
        (one write register fewer where it would drive nothing far)."""
        return 2 if self._params.d > FILL_GROUP else 0

    @property
    def _tree_hops(self) -> int:
        """The top adder-tree levels, whose operands each sum :data:`TREE_HOP_LOOKUPS` lookups or
        more (level ``k``'s sum ``2**(k-1)``) and take one more register."""
        return max(0, self._params.log2_d - TREE_HOP_LOOKUPS.bit_length() + 1)

    @property
    def shift_add_multipliers(self) -> int:
        """Multiplications built of shifts and adds, which a netlist shows as adders, not as
        multiplier cells: 1 with ``score_multiplier = "fabric"``, else 0."""
        return int(self._params.score_multiplier == "fabric")

    @property
    def _multiplier_depth(self) -> int:
        """Registers of the multiplication (``params.score_multiplier``): shift-and-add
        stages, or a DSP multiplier's two output registers."""
        if self._params.score_multiplier == "fabric":
            return shift_add_depth(self._mantissa_width)
        return 2

    @property
    def _mantissa_width(self) -> int:
        """The stored norm's significand: the whole norm when it is stored exactly."""
        p = self._params
        return p.norm_mantissa if p.norm_rounded else p.norm_width

    def elaborate(self, platform):
        p = self._params
        m = Module()
        stage = partial(register, m, 1)
        valid = self.i.valid
        for _ in range(self.latency):
            valid = stage(valid)
        m.d.comb += self.o.valid.eq(valid)

        # The table's memories. A write reaches them through write_lag registers
        # (pipeline.copies): a channel's control in one copy per FILL_GROUP coordinates that it
        # writes, a channel's lane's entry in one copy per group that holds a coordinate of it.
        # Each group's copy of its channel's control holds the address and the write enable of
        # each of its memories on that channel, decoded from the beat's bits above the channel
        # number as the copy loads, so that an enable is a flip-flop (decoded after the copy,
        # two LUT levels and the route between them limited the d=128, b=3 macro: 189.0 MHz).
        # With one group the writes go to the memories as they are.
        lanes, width, channels = self._lanes, p.table_entry_width, len(self.fill)
        low_bits = channels.bit_length() - 1
        parts = [(low, min(low + LOOKUP_GROUP, width)) for low in range(0, width, LOOKUP_GROUP)]
        groups, members = {}, {}
        for j in range(p.d):
            channel, group = (j // lanes) % channels, j // FILL_GROUP
            groups.setdefault((channel, j % lanes), set()).add(group)
            members.setdefault((group, channel), []).append(j)

        def fan_out(value, holders, name: str, leaf=lambda holder, v: v) -> dict:
            holders = sorted(holders)
            if not self.write_lag:
                return {holder: leaf(holder, value) for holder in holders}
            return dict(zip(holders, copies(m, value, len(holders), name,
                                            leaf=lambda n, v: leaf(holders[n], v)),
                            strict=True))

        controls, values = {}, {}
        for c, fill in enumerate(self.fill):
            holders = set().union(*(g for (channel, _), g in groups.items() if channel == c))
            control = Cat(fill.valid, fill.payload.entry, fill.payload.bank,
                          fill.payload.beat[low_bits:])

            def decode(group, v, c=c):
                """The address, then the write enable of each of the group's memories on
                channel ``c``."""
                return Cat(v[1:p.b + 1], *(v[0] & (v[p.b + 1:] == (j // lanes) >> low_bits)
                                           for j in members[group, c]))

            for group, copy in fan_out(control, holders, f"fill_control_{c}", decode).items():
                controls[group, c] = copy
            for lane in range(lanes):
                for group, copy in fan_out(fill.payload.values[lane], groups[c, lane],
                                           f"fill_value_{c}_{lane}").items():
                    values[group, c, lane] = copy
        memories = []
        for j in range(p.d):
            channel, group = (j // lanes) % channels, j // FILL_GROUP
            control = controls[group, channel]
            enable = control[p.b + members[group, channel].index(j)]
            coordinate = []
            for low, high in parts:
                mem = memory.Memory(shape=high - low, depth=2 * p.half, init=[])
                m.submodules[f"table_{j}_{len(coordinate)}"] = mem
                port = mem.write_port()
                m.d.comb += [port.addr.eq(control[:p.b]),
                             port.data.eq(values[group, channel, j % lanes][low:high]),
                             port.en.eq(enable)]
                coordinate.append(mem.read_port(domain="comb"))
            memories.append(coordinate)

        # Decode, then lookup. Index idx < half (top bit clear) is the negative level half-1-c
        # with c = ~idx[:b-1], whose entry is -P[j][half+c] = ~P[j][half+c] + 1. Every legal
        # entry has |e| <= table_max < 2**(table_entry_width-1), so ~e = -e-1 fits the same
        # width and -e = ~e + 1 holds for all of them. The d missing +1s are added once, as the
        # count of negated lookups, after the tree: no negation adder per lookup. The decode
        # registers the half-table address c and the negation, once per LOOKUP_GROUP bits of
        # the entry, beside its memory, and the row's bank in BANK_COPIES copies; a lookup bit is
        # a LUT RAM read and an exclusive or, registered.
        row, bank = self.i.payload.row, self.i.payload.bank
        banks = [Signal(name=f"bank_{n}", attrs={"keep": 1}) for n in range(min(BANK_COPIES, p.d))]
        m.d.sync += [copy.eq(bank) for copy in banks]
        entries, negative = [], []
        for j in range(p.d):
            idx = row[j * p.b:(j + 1) * p.b]
            looked_up = []
            for n, ((low, high), port) in enumerate(zip(parts, memories[j], strict=True)):
                decoded = Signal(p.b, name=f"decoded_{j}_{n}", attrs={"keep": 1})
                m.d.sync += decoded.eq(Cat(idx[:-1] ^ (~idx[-1]).replicate(p.b - 1), ~idx[-1]))
                c, neg = decoded[:-1], decoded[-1]
                m.d.comb += port.addr.eq(Cat(c, banks[j * len(banks) // p.d]))
                looked_up.append(stage(Mux(neg, ~port.data, port.data), high - low))
            entries.append(Cat(looked_up).as_signed())
            negative.append(stage(neg, 1))
        field = stage(stage(row[p.d * p.b:], p.norm_field_width), p.norm_field_width)

        # The adder tree, one register level per tree level (level k sums 2**k lookups: k bits
        # wider than an entry, sum_width at the root), with the count of negations beside it.
        # Operands that each sum TREE_HOP_LOOKUPS lookups or more come from far apart: they take
        # one more register (the norm field too, to stay beside them). The count's narrow adders
        # take their far operands directly; its root takes the hops instead, on its way to the
        # wide corrected sum (the root's route into it was 3.0 ns at d=128).
        for level in range(1, p.log2_d + 1):
            if level > p.log2_d - self._tree_hops:
                entries, field = [stage(e) for e in entries], stage(field)
            entries = [stage(a + b, signed(p.tree_width(level)))
                       for a, b in zip(entries[0::2], entries[1::2], strict=True)]
            negative = [stage(a + b, level + 1)
                        for a, b in zip(negative[0::2], negative[1::2], strict=True)]
            field = stage(field, p.norm_field_width)
        for _ in range(self._tree_hops):
            negative = [stage(n) for n in negative]

        # The corrected sum and the significand, registered; their product through the shift-add
        # multiplier, the exponent delayed beside it; then the exponent's barrel shift in two
        # registered steps: by the exponent's low bits, then by its high bits into the output
        # register (one 4-way multiplexer per bit and step at exponent_width = 4).
        mantissa_width = self._mantissa_width
        total = stage(entries[0] + negative[0], signed(p.sum_width))
        mantissa = stage(field[:mantissa_width], mantissa_width)
        if p.score_multiplier == "fabric":
            product = shift_add_mul(total, mantissa, stage)
        else:
            product = stage(stage(total * mantissa))
        exponent = field[mantissa_width:]
        for _ in range(1 + self._multiplier_depth):
            exponent = stage(exponent, len(exponent))
        low = (len(exponent) + 1) // 2
        shifted = stage(product << exponent[:low], signed(p.score_width))
        high = stage(exponent[low:], len(exponent) - low)
        m.d.sync += self.o.payload.eq(shifted << Cat(C(0, low), high))
        return m
