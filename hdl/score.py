"""The score datapath: d half-table lookups, a pipelined adder tree and the norm scaling."""

from functools import partial

from amaranth.hdl import Module, Mux, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .pipeline import register, stall_pipeline

__all__ = ["ScoreDatapath"]


class ScoreDatapath(wiring.Component):
    """``score = sum_j P[j][idx_j] * N_stored`` of one packed row per cycle.

    Matches :func:`axelram.golden.fixed.score` bit for bit, from the positive half of the query
    table only (``d * 2**(b-1)`` entries, 512 instead of 1024 for d=128, b=3; the
    :class:`~axelram.hdl.table.QueryTable` output).

    Latency ``log2(d) + 4`` cycles (``log2(d) + 3`` when the norm is stored exactly): lookup,
    ``log2(d)`` adder-tree levels, the multiplier's input register, its output register, the
    exponent shift. Throughput one score per cycle. Operations: ``d`` half-table lookups
    (``2**(b-1)``-way multiplexers) with a conditional ones' complement, ``d - 1`` adders of the
    entries, ``d - 1`` narrow adders that count the negated lookups and one correction adder,
    one true multiplication (``sum * m``, for a DSP) and a barrel shifter over
    ``exponent_max + 1`` positions.

    Parameters
    ----------
    params : Params

    Members
    -------
    table : In(ArrayLayout(ArrayLayout(signed(table_entry_width), half), d))
        The positive half of the query table, ``table[j][c] = P[j][half + c]``. Not a stream: it
        is sampled with each row as the row is accepted, so the user holds it stable for the
        duration of a query (from the query's first row accepted on ``i`` to its last) and may
        change it once the last row of the query has been accepted.
    i : In(stream.Signature(unsigned(row_width)))
        Packed rows (:func:`axelram.golden.fixed.pack_rows`): index ``j`` in bits
        ``[j*b, (j+1)*b)``, the norm field above ``d*b``.
    o : Out(stream.Signature(signed(score_width)))
        One score per row, in order.
    """

    def __init__(self, params: Params):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        self._params = params
        entries = data.ArrayLayout(signed(params.table_entry_width), params.half)
        super().__init__({
            "table": In(data.ArrayLayout(entries, params.d)),
            "i": In(stream.Signature(params.row_width)),
            "o": Out(stream.Signature(signed(params.score_width))),
        })

    @property
    def params(self) -> Params:
        return self._params

    @property
    def latency(self) -> int:
        return self._params.log2_d + 3 + self._params.norm_rounded

    def elaborate(self, platform):
        p = self._params
        m = Module()
        advance = stall_pipeline(m, self.i, self.o, self.latency)

        stage = partial(register, m, advance)

        # Lookup. Index idx < half (top bit clear) is the negative level half-1-c with
        # c = ~idx[:b-1], whose entry is -P[j][half+c] = ~P[j][half+c] + 1. Every legal entry has
        # |e| <= table_max < 2**(table_entry_width-1), so ~e = -e-1 fits the same width and
        # -e = ~e + 1 holds for all of them. The d missing +1s are added once, as the count of
        # negated lookups, after the tree: no negation adder per lookup.
        row = self.i.payload
        entries, negative = [], []
        for j in range(p.d):
            idx = row[j * p.b:(j + 1) * p.b]
            neg = ~idx[-1]
            entry = self.table[j][idx[:-1] ^ neg.replicate(p.b - 1)]
            entries.append(stage(Mux(neg, ~entry, entry), signed(p.table_entry_width)))
            negative.append(stage(neg, 1))
        field = stage(row[p.d * p.b:], p.norm_field_width)

        # The adder tree, one register level per tree level (level k sums 2**k lookups: k bits
        # wider than an entry, sum_width at the root), with the count of negations beside it.
        for level in range(1, p.log2_d + 1):
            entries = [stage(a + b, signed(p.tree_width(level)))
                       for a, b in zip(entries[0::2], entries[1::2], strict=True)]
            negative = [stage(a + b, level + 1)
                        for a, b in zip(negative[0::2], negative[1::2], strict=True)]
            field = stage(field, p.norm_field_width)

        # Registers on both sides of the multiplier (a DSP can absorb them): the corrected sum and
        # the significand; then its output register, then the exponent's barrel shift.
        mantissa_width = p.norm_mantissa if p.norm_rounded else p.norm_width
        total = stage(entries[0] + negative[0], signed(p.sum_width))
        mantissa = stage(field[:mantissa_width], mantissa_width)
        if not p.norm_rounded:
            with m.If(advance):
                m.d.sync += self.o.payload.eq(total * mantissa)
            return m
        exponent = stage(stage(field[mantissa_width:], p.exponent_width), p.exponent_width)
        product = stage(total * mantissa, signed(p.score_width))
        with m.If(advance):
            m.d.sync += self.o.payload.eq(product << exponent)
        return m
