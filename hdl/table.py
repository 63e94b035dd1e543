"""The query table: the rotated query times every positive centroid, by shifts and adds."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .arith import const_mul
from .pipeline import stall_pipeline

__all__ = ["QueryTable"]


class QueryTable(wiring.Component):
    """``P[j][c] = round_shift(z_j * centroids_fixed[c], table_shift)``: the positive half only.

    The golden table :func:`axelram.golden.fixed.query_table` has ``d * 2**b`` entries, but its
    negative half is the exact negation of the positive half (``P[j][half-1-c] = -P[j][half+c]``),
    so only the ``d * 2**(b-1)`` positive entries are built (512 instead of 1024 for d=128, b=3);
    :class:`~axelram.hdl.score.ScoreDatapath` negates on lookup. Entry ``[j][c]`` of the output is
    golden ``query_table(z, params)[j][half + c]``, rounded to nearest with ties toward +inf.

    Latency 2 cycles (1 when ``table_shift`` is 0); throughput one vector per cycle. Each product
    by a design-time centroid is a canonical-signed-digit shift-and-add tree (no multiplier):
    ``sum(len(csd(c)) - 1)`` adders per coordinate, plus one rounding incrementer per entry.

    Parameters
    ----------
    params : Params
        ``d``, ``b``, the codebook and ``table_width`` are used.

    Members
    -------
    i : In(stream.Signature(ArrayLayout(signed(rotated_width), d)))
        The rotated query ``z`` (the :class:`~axelram.hdl.rotator.Rotator` output).
    o : Out(stream.Signature(ArrayLayout(ArrayLayout(signed(table_entry_width), half), d)))
        The positive half of the table, ``o.payload[j][c]``.
    """

    def __init__(self, params: Params):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        self._params = params
        entries = data.ArrayLayout(signed(params.table_entry_width), params.half)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(params.rotated_width), params.d))),
            "o": Out(stream.Signature(data.ArrayLayout(entries, params.d))),
        })

    @property
    def params(self) -> Params:
        return self._params

    @property
    def latency(self) -> int:
        return 2 if self._params.table_shift else 1

    def elaborate(self, platform):
        p = self._params
        m = Module()
        advance = stall_pipeline(m, self.i, self.o, self.latency)

        # round_shift(x, s) = (x + 2**(s-1)) >> s = ((x >> (s-1)) + 1) >> 1. Stage 1 keeps
        # x >> (s-1) only (table_entry_width + 1 bits hold it, as round_shift(x, s) fits
        # table_entry_width), so the register between the product tree and the rounding
        # incrementer is one bit wider than an entry, not as wide as the full product.
        s = p.table_shift
        for z, out in zip(self.i.payload, self.o.payload, strict=True):
            for c, entry in zip(p.centroids_fixed, out, strict=True):
                product = const_mul(z, int(c))
                if not s:
                    with m.If(advance):
                        m.d.sync += entry.eq(product)
                    continue
                floor = Signal(signed(p.table_entry_width + 1))
                with m.If(advance):
                    m.d.sync += [
                        floor.eq(product >> (s - 1)),
                        entry.eq((floor + 1) >> 1),
                    ]
        return m
