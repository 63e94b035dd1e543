"""The query table: the rotated query times every positive centroid, by shifts and adds."""

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .arith import const_mul, csd, tree_depth
from .pipeline import Folded, check_lanes, register, stall_pipeline

__all__ = ["QueryTable"]


class QueryTable(Folded, wiring.Component):
    """``P[j][c] = round_shift(z_j * centroids_fixed[c], table_shift)``: the positive half only.

    The golden table :func:`axelram.golden.fixed.query_table` has ``d * 2**b`` entries, but its
    negative half is the exact negation of the positive half (``P[j][half-1-c] = -P[j][half+c]``),
    so only the ``d * 2**(b-1)`` positive entries are built (512 instead of 1024 for d=128, b=3);
    :class:`~axelram.hdl.score.ScoreDatapath` negates on lookup. Entry ``[j][c]`` of the output is
    golden ``query_table(z, params)[j][half + c]``, rounded to nearest with ties toward +inf.

    The query arrives in beats of ``L = lanes`` coordinates, ``d / L`` beats per query; beat ``k``
    carries coordinates ``k*L .. k*L + L - 1`` (lane ``l`` is coordinate ``k*L + l``), and a
    query is ``d / L`` consecutive beats counted from reset. Each beat's ``L * half`` products by
    the design-time centroids are canonical-signed-digit shift-and-add trees (no multiplier),
    pipelined: the shifted terms are registered, then every level of their sum, one adder per
    stage, shorter trees padded to the longest; then rounded in a stage of its own. The rounded
    beat shifts into a fill register of ``d * half`` entries (no write
    address), which is also the output register: ``o.valid`` rises when a query's last beat
    has shifted in. ``lanes = d`` (the default) is the parallel table: one beat per query.

    Latency :attr:`latency` ``= 2 + tree_depth(most CSD digits)`` cycles (one fewer when
    ``table_shift`` is 0: no rounding) from the transfer of a query's last beat to ``o.valid``,
    for every ``L``; throughput one beat per cycle, one query
    per ``d / L`` cycles while ``o`` is taken at once. The product and rounding pipeline and the
    fill register move on one advance condition (:func:`~axelram.hdl.pipeline.stall_pipeline`):
    ``i.ready`` is low exactly while ``o.valid`` is high and ``o.ready`` low (a finished table
    waits; the next query's first beat, if already taken, waits in the pipeline), so ``o`` may be
    held for any number of cycles and no beat is lost or taken twice. ``o.valid`` comes from
    registers (for ``L < d`` the last valid bit AND a beat-count compare); ``i.ready`` follows
    ``o.ready`` combinationally. ``L = d`` has no beat counter and no shift: ``o`` is the
    pipeline's last register.

    Arithmetic for the ``L`` lanes: ``L * sum(len(csd(c)) - 1)`` constant-product adders (the
    negative CSD digits as negations) and ``L * half`` rounding incrementers (none when
    ``table_shift`` is 0), plus the beat counter's incrementer when ``L < d``. Registers: per
    lane and centroid, the CSD terms and every level of their sum (the products' full width),
    the ``d * half`` entries of the fill register, a ``log2(d / L)``-bit beat counter and
    ``latency`` valid bits.

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
    o : Out(stream.Signature(ArrayLayout(ArrayLayout(signed(table_entry_width), half), d)))
        The positive half of the table, ``o.payload[j][c]``.
    """

    def __init__(self, params: Params, lanes: int | None = None):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        self._params = params
        self._lanes = lanes = check_lanes(params, lanes)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(params.rotated_width), lanes))),
            "o": Out(stream.Signature(data.ArrayLayout(self._entries, params.d))),
        })

    @property
    def latency(self) -> int:
        """Cycles from a query's last beat to ``o.valid``: the terms, the levels of the
        deepest product tree, and the rounding (when ``table_shift`` is not 0)."""
        return 1 + self._product_depth + (self._params.table_shift != 0)

    @property
    def _product_depth(self) -> int:
        """Adder levels of the deepest centroid product."""
        return max(tree_depth(len(csd(int(c)))) for c in self._params.centroids_fixed)

    @property
    def _entries(self) -> data.ArrayLayout:
        """The ``half`` entries of one coordinate."""
        return data.ArrayLayout(signed(self._params.table_entry_width), self._params.half)

    def elaborate(self, platform):
        p, lanes = self._params, self._lanes
        m = Module()
        # `beat` is the pipeline's last register: the newest rounded beat, the top L coordinates
        # of the fill register; it may be overwritten unless it completes a table not taken.
        # With one beat per query (L = d) it is the whole table: the output register itself.
        folded = self.beats > 1
        beat = self.o
        if folded:
            beat = stream.Signature(data.ArrayLayout(self._entries, lanes)).create(path=("beat",))
        advance = stall_pipeline(m, self.i, beat, self.latency)

        def stage(value):
            return register(m, advance, value, value.shape())

        # round_shift(x, s) = (x + 2**(s-1)) >> s = ((x >> (s-1)) + 1) >> 1, registered in the
        # entry's width (round_shift(x, s) fits table_entry_width).
        s = p.table_shift
        for z, out in zip(self.i.payload, beat.payload, strict=True):
            for c, entry in zip(p.centroids_fixed, out, strict=True):
                product = const_mul(z, int(c), stage)
                for _ in range(self._product_depth - tree_depth(len(csd(int(c))))):
                    product = stage(product)
                if s:
                    product = register(m, advance, ((product >> (s - 1)) + 1) >> 1,
                                       signed(p.table_entry_width))
                m.d.comb += entry.eq(product)

        if not folded:
            return m
        # The older beats of the fill register: a valid beat moves down from `beat` when the
        # pipeline advances and the oldest L coordinates drop out (a shift register, no write
        # address). `count` is the number of this query's beats below `beat`, so `beat` holds a
        # query's last beat when it is d/L - 1. `beat.ready` makes i.ready = ~o.valid | o.ready.
        count = Signal(range(self.beats))
        older = Signal((p.d - lanes) * self._entries.size)
        m.d.comb += [
            self.o.payload.eq(Cat(older, beat.payload)),
            self.o.valid.eq(beat.valid & (count == self.beats - 1)),
            beat.ready.eq(~self.o.valid | self.o.ready),
        ]
        with m.If(advance & beat.valid):
            m.d.sync += [
                count.eq(count + 1),
                older.eq(Cat(older[lanes * self._entries.size:], beat.payload)),
            ]
        return m
