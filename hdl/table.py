"""The query table: the rotated query times every positive centroid, by shifts and adds,
written into the score datapath's table memory one entry per coordinate and cycle."""

from functools import partial

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .arith import const_mul, csd, tree_depth
from .pipeline import Folded, check_lanes, flow, register

__all__ = ["QueryTable", "fill_layout"]


def fill_layout(params: Params, lanes: int) -> data.StructLayout:
    """One write of the query table: ``values[l]`` is entry ``entry`` (of the positive half) of
    coordinate ``beat * lanes + l``, in table bank ``bank``."""
    return data.StructLayout({
        "values": data.ArrayLayout(signed(params.table_entry_width), lanes),
        "entry": range(params.half),
        "beat": range(params.d // lanes),
        "bank": 1,
    })


class QueryTable(Folded, wiring.Component):
    """``P[j][c] = round_shift(z_j * centroids_fixed[c], table_shift)``: the positive half only,
    written entry by entry into one of two table banks.

    The golden table :func:`axelram.golden.fixed.query_table` has ``d * 2**b`` entries, but its
    negative half is the exact negation of the positive half (``P[j][half-1-c] = -P[j][half+c]``),
    so only the ``d * 2**(b-1)`` positive entries are built (512 instead of 1024 for d=128, b=3);
    :class:`~axelram.hdl.score.ScoreDatapath` negates on lookup and holds the entries, in two
    banks of LUT RAM, one per coordinate: while the store is read against one query's table in
    one bank, the next query's is written into the other. Entry ``c`` of coordinate ``j`` is
    golden ``query_table(z, params)[j][half + c]``, rounded to nearest with ties toward +inf.

    The query arrives in beats of ``L = lanes`` coordinates, ``d / L`` beats per query; beat ``k``
    carries coordinates ``k*L .. k*L + L - 1`` (lane ``l`` is coordinate ``k*L + l``), and a
    query is ``d / L`` consecutive beats counted from reset. A beat stays on ``i`` for ``half``
    cycles (it is taken in the last): in each, the ``L`` products of one centroid are written,
    entry ``0`` first (a table memory takes one write per cycle). Each beat's ``L * half``
    products by the design-time centroids are canonical-signed-digit shift-and-add trees (no
    multiplier), pipelined: the shifted terms are registered, then every level of their sum,
    one adder per stage, shorter trees padded to the longest; then the entry of the cycle is
    selected and registered, then rounded into the write on ``fill`` (a register). Nothing in
    the pipeline stalls.

    ``o`` carries the bank of each complete table: ``o.valid`` rises the cycle after its last
    write on ``fill``. Once a query's last beat is taken, ``i.ready`` stays low until its table
    is taken on ``o``, which tells that the previous table's bank is no longer read: the next
    query's table is written there. The first table goes to bank 0. ``o.valid`` is a register;
    ``o`` may be held for any number of cycles.

    Latency :attr:`latency` ``= 4 + max tree_depth(CSD digits)`` cycles from the transfer of a
    query's last beat to ``o.valid``, for every ``L``. Throughput one beat per ``half``
    cycles; the next query's first beat is on ``i`` from the cycle after its table is taken, so
    with ``o`` taken at once one query per ``half * d / L + latency`` cycles.

    Arithmetic for the ``L`` lanes: ``L * sum(len(csd(c)) - 1)`` constant-product adders (the
    negative CSD digits as subtractions), ``L`` rounding incrementers (none when
    ``table_shift`` is 0) and ``L`` ``half``-way entry multiplexers, plus the beat counter's
    incrementer when ``L < d`` and the entry counter's when ``half > 1``. Registers: per lane
    and centroid, the CSD terms and every level of their sum (the products' full width); the
    ``L`` selected products; the write (``L`` entries and its address); the counters and the
    control's delay registers.

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
    fill : Out(flow(fill_layout(params, L)))
        The table's writes, one per cycle at most, to the score datapath's ``fill``.
    o : Out(stream.Signature(1))
        The bank of a complete table.
    """

    def __init__(self, params: Params, lanes: int | None = None):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        self._params = params
        self._lanes = lanes = check_lanes(params, lanes)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(params.rotated_width), lanes))),
            "fill": Out(flow(fill_layout(params, lanes))),
            "o": Out(stream.Signature(1)),
        })

    @property
    def latency(self) -> int:
        """Cycles from a query's last beat to ``o.valid``: the terms, the levels of the
        deepest product tree, the selected entry, the write, and the cycle that writes it."""
        return 4 + self._product_depth

    @property
    def _product_depth(self) -> int:
        """Adder levels of the deepest centroid product."""
        return max(tree_depth(len(csd(int(c)))) for c in self._params.centroids_fixed)

    def elaborate(self, platform):
        p, half = self._params, self._params.half
        m = Module()
        stage = partial(register, m, 1)

        # A beat is on `i` for `half` cycles: `entry` counts them, and `i.ready` (a register)
        # is high in the last, when the beat is taken. `open` is low from a query's last
        # beat taken to its table taken on `o`.
        entry = Signal(range(half))
        beat = Signal(range(self.beats))
        ready = Signal(init=half == 1)
        open_ = Signal(init=1)
        write = Signal()
        last_beat = beat == self.beats - 1
        m.d.comb += [self.i.ready.eq(ready), write.eq(self.i.valid & open_)]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [open_.eq(1), ready.eq(half == 1), self.o.valid.eq(0)]
        with m.Elif(write & ready):
            m.d.sync += [entry.eq(0), ready.eq((half == 1) & ~last_beat), open_.eq(~last_beat),
                         beat.eq(Mux(last_beat, 0, beat + 1))]
        if half > 1:
            with m.Elif(write):
                m.d.sync += [entry.eq(entry + 1), ready.eq(entry == half - 2)]

        # The products of the beat on `i`, and beside them the address of the cycle's write
        # and whether it completes the table; then the write register on `fill`, and `o.valid`
        # the cycle after the table's last write.
        s = p.table_shift
        products = []
        for z in self.i.payload:
            lane = []
            for c in p.centroids_fixed:
                product = const_mul(z, int(c), stage, drop=max(s - 1, 0))
                for _ in range(self._product_depth - tree_depth(len(csd(int(c))))):
                    product = stage(product)
                lane.append(product)
            products.append(lane)
        control = Cat(write, write & ready & last_beat, entry, beat)
        for _ in range(1 + self._product_depth):
            control = stage(control)
        # The cycle's entry selected and registered (its multiplexer and the rounding's carry
        # chain in one cycle were the d=128, b=4 macro's critical path: 6.5 ns), then rounded:
        # round_shift(x, s) = (x + 2**(s-1)) >> s = ((x >> (s-1)) + 1) >> 1 (it fits
        # table_entry_width): the products keep only their bits from s-1 up. With table_shift 0
        # the product goes in as it is.
        chosen = [stage(Array(lane)[control[2:2 + len(entry)]]) for lane in products]
        values = [((c + 1) >> 1) if s else c for c in chosen]
        control = stage(control)
        valid, complete = control[0], control[1]
        at_entry, at_beat = control[2:2 + len(entry)], control[2 + len(entry):]
        bank = Signal()
        fill = self.fill.payload
        m.d.sync += [
            self.fill.valid.eq(valid),
            fill.entry.eq(at_entry),
            fill.beat.eq(at_beat),
            *(v.eq(value) for v, value in zip(fill.values, values, strict=True)),
        ]
        m.d.comb += fill.bank.eq(bank)
        written = stage(valid & complete)
        with m.If(written):
            m.d.sync += self.o.valid.eq(1)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += bank.eq(~bank)
        m.d.comb += self.o.payload.eq(bank)
        return m
