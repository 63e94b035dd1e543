"""The query table: the rotated query times every positive centroid, by shifts and adds."""

from functools import partial

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .arith import const_mul, csd, tree_depth
from .pipeline import Folded, check_lanes, copies, register

__all__ = ["QueryTable", "FILL_ENABLES"]

#: Copies of the fill register's enable: each drives ``d / FILL_ENABLES`` of its coordinates
#: (512 flip-flops at d=128, b=3).
FILL_ENABLES = 64


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
    stage, shorter trees padded to the longest; then rounded into the fill register, a shift
    register of ``d * half`` entries (no write address) that is also the output register.
    ``lanes = d`` (the default) is the parallel table: one beat per query.

    Nothing in the pipeline stalls, so no handshake drives a clock enable across it (at d=128
    the fill register alone is 9,000 flip-flops): the beats advance every cycle, and the fill
    register shifts exactly when a beat reaches it, on :data:`FILL_ENABLES` registered copies
    of the valid bit (:func:`~axelram.hdl.pipeline.copies`), each driving a part of it. Instead the
    input waits: once a query's last beat is taken, ``i.ready`` stays low until its table has
    been taken on ``o``, so no beat can reach a table that is waiting. ``i.ready`` and
    ``o.valid`` are registers; ``o`` may be held for any number of cycles.

    Latency :attr:`latency` ``= 2 + max(1, tree_depth(most CSD digits))`` cycles from the
    transfer of a query's last beat to ``o.valid``, for every ``L``. Throughput one beat per
    cycle within a query; the next query's first beat is taken the cycle after its table is
    taken, so with ``o`` taken at once one query per ``d / L + latency`` cycles.

    Arithmetic for the ``L`` lanes: ``L * sum(len(csd(c)) - 1)`` constant-product adders (the
    negative CSD digits as subtractions) and ``L * half`` rounding incrementers (none when
    ``table_shift`` is 0), plus the beat counters' incrementers when ``L < d``. Registers: per
    lane and centroid, the CSD terms and every level of their sum (the products' full width),
    the ``d * half`` entries of the fill register, two ``log2(d / L)``-bit beat counters,
    the valid bit's ``latency - 3`` delay registers and its copies.

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
        deepest product tree, and the fill register (which takes the rounded products)."""
        return 2 + self._product_depth

    @property
    def _product_depth(self) -> int:
        """Adder levels of the deepest centroid product, at least 1 (the fill register's
        enables are copies two cycles after a beat's transfer)."""
        return max(1, *(tree_depth(len(csd(int(c)))) for c in self._params.centroids_fixed))

    @property
    def _entries(self) -> data.ArrayLayout:
        """The ``half`` entries of one coordinate."""
        return data.ArrayLayout(signed(self._params.table_entry_width), self._params.half)

    def elaborate(self, platform):
        p, lanes = self._params, self._lanes
        m = Module()
        stage = partial(register, m, 1)

        # Counts of the beats taken at the input and of those that reached the fill register.
        taken_in, filled = (Signal(range(self.beats), name=name) for name in ("taken_in", "filled"))
        transfer = Signal()
        arrive = Signal()
        m.d.comb += transfer.eq(self.i.valid & self.i.ready)
        with m.If(transfer):
            m.d.sync += taken_in.eq(Mux(taken_in == self.beats - 1, 0, taken_in + 1))
        with m.If(arrive):
            m.d.sync += filled.eq(Mux(filled == self.beats - 1, 0, filled + 1))

        # The input closes at a query's last beat and opens when its table is taken; o.valid
        # rises as the last beat enters the fill register.
        ready = Signal(init=1)
        m.d.comb += self.i.ready.eq(ready)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [self.o.valid.eq(0), ready.eq(1)]
        with m.Elif(arrive & (filled == self.beats - 1)):
            m.d.sync += self.o.valid.eq(1)
        with m.If(transfer & (taken_in == self.beats - 1)):
            m.d.sync += ready.eq(0)

        # The products, then their rounding on the way into the fill register.
        # round_shift(x, s) = (x + 2**(s-1)) >> s = ((x >> (s-1)) + 1) >> 1 (it fits
        # table_entry_width): the products keep only their bits from s-1 up. With table_shift 0
        # the product goes in as it is.
        s = p.table_shift
        incoming = []
        for z in self.i.payload:
            entries = []
            for c in p.centroids_fixed:
                product = const_mul(z, int(c), stage, drop=max(s - 1, 0))
                for _ in range(self._product_depth - tree_depth(len(csd(int(c))))):
                    product = stage(product)
                entry = Signal(signed(p.table_entry_width))
                m.d.comb += entry.eq(((product + 1) >> 1) if s else product)
                entries.append(entry)
            incoming.append(Cat(entries))
        valid = transfer
        for _ in range(self.latency - 3):
            valid = stage(valid)

        # The fill register: a beat enters at the top and the oldest L coordinates drop out at
        # the bottom, on copies of the valid bit, each driving a slice of it, and one more for
        # the control (`arrive`), which lies beside no slice (the first slice's copy drove it
        # too: 3.6 ns of routing in the d=128 macro).
        arriving, *enables = copies(m, valid, 1 + min(FILL_ENABLES, p.d), "fill_enable")
        m.d.comb += arrive.eq(arriving)
        fill = [Signal(self._entries, name=f"fill_{j}") for j in range(p.d)]
        for j, slot in enumerate(fill):
            top = j - (p.d - lanes)
            with m.If(enables[j * len(enables) // p.d]):
                m.d.sync += slot.eq(incoming[top] if top >= 0 else fill[j + lanes])
        m.d.comb += self.o.payload.eq(Cat(fill))
        return m
