"""The AXELRAM macro: key write path, index store, and the read path that scores every key."""

from amaranth.hdl import Const, Module, ResetInserter, Signal, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .delay import Delay
from .norm import NormUnit
from .quantizer import Quantizer
from .rotator import Rotator
from .score import ScoreDatapath
from .store import IndexStore
from .table import QueryTable

__all__ = ["Macro"]


class Macro(wiring.Component):
    """Stores keys as packed indices and scores every stored key against each query.

    Write path, one key per cycle, never stalled once accepted: the key goes to the norm unit
    and, through a delay that lines the two paths up, to the rotator; the quantizer joins them
    into a row that the index store appends. ``keys.ready`` is low while the keys already
    accepted would fill the store (``depth`` keys, counting those still in flight).

    Read path: the query is rotated (by a rotator of its own, so that key writes and scoring
    overlap) and turned into the query table, which is held in a register while the store is
    read in insertion order, one row per cycle, into the score datapath: one score per stored
    key and cycle. A query is scored against the keys counted when its table is ready (keys
    still in the write path are not); a query against an empty store produces no score. The
    next query's table is computed while the current one is scored.

    ``clear`` (a one-cycle pulse) empties the store and drops the keys in the write path. A
    query being scored still produces one score per key counted when it started; keys written
    after the clear replace the rows they land on.

    Parameters
    ----------
    params : Params
    signs : sequence of +-1, or None
        The sign vector, fixed in a ROM; ``None`` adds the ``signs`` input port instead.

    Members
    -------
    keys : In(stream.Signature(ArrayLayout(signed(in_width), d)))
    queries : In(stream.Signature(ArrayLayout(signed(in_width), d)))
    scores : Out(stream.Signature(StructLayout({"score": signed(score_width), "last": 1})))
        ``last`` marks a query's final score. ``q . k ~= score * 2**score_scale_log2``.
    clear : In(1)
    count : Out(range(depth + 1))
        Keys stored (as the store counts them: in-flight keys not yet).
    full : Out(1)
    signs : In(d), only when ``signs`` is None
        Bit ``j`` set negates coordinate ``j``; hold it stable while keys or queries flow.
    """

    def __init__(self, params: Params, *, signs=None):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        if signs is not None:
            signs = tuple(int(s) for s in signs)
            if len(signs) != params.d or set(signs) - {-1, 1}:
                raise ValueError(f"signs must be {params.d} values of +1 or -1")
        self._params = params
        self._signs = signs
        vector = data.ArrayLayout(signed(params.in_width), params.d)
        members = {
            "keys": In(stream.Signature(vector)),
            "queries": In(stream.Signature(vector)),
            "scores": Out(stream.Signature(data.StructLayout(
                {"score": signed(params.score_width), "last": 1}))),
            "clear": In(1),
            "count": Out(range(params.depth + 1)),
            "full": Out(1),
        }
        if signs is None:
            members["signs"] = In(params.d)
        super().__init__(members)
        self._norm, self._key_rotator, self._quantizer = (
            NormUnit(params), Rotator(params), Quantizer(params))
        self._store = IndexStore(params)
        self._query_rotator, self._table, self._score = (
            Rotator(params), QueryTable(params), ScoreDatapath(params))

    @property
    def params(self) -> Params:
        return self._params

    # Cycles from a row on the store's read port to the row entering the score datapath: the
    # FIFO's write and its output buffer.
    _ROW_TO_DATAPATH = 2

    @property
    def latencies(self) -> dict:
        """Latencies in cycles (an input transferred in cycle ``c`` shows in cycle
        ``c + latency``): ``write``, key accepted to ``count`` incremented; ``query``, query
        accepted (macro idle, store not empty) to its first score valid. Then one score per
        cycle."""
        write_path = max(self._norm.latency, self._key_rotator.latency)
        # The table is latched as it leaves the table unit; the first read is issued next cycle.
        read_start = 1 + self._store.read_latency + self._ROW_TO_DATAPATH
        return {
            "write": write_path + self._quantizer.latency + 1,
            "query": self._query_rotator.latency + self._table.latency + read_start
            + self._score.latency,
        }

    def elaborate(self, platform):
        p = self._params
        m = Module()
        if self._signs is None:
            signs = self.signs
        else:
            signs = Const(sum(1 << j for j, s in enumerate(self._signs) if s < 0), p.d)

        # -- Write path: never stalls; `clear` resets whatever is in flight. ------------------
        norm, key_rotator, quantizer = self._norm, self._key_rotator, self._quantizer
        lag = norm.latency - key_rotator.latency
        key_delay = Delay(self.keys.payload.shape(), lag) if lag > 0 else None
        norm_delay = Delay(norm.o.payload.shape(), -lag) if lag < 0 else None
        for name, block in (("norm", norm), ("key_rotator", key_rotator),
                            ("quantizer", quantizer), ("key_delay", key_delay),
                            ("norm_delay", norm_delay)):
            if block is not None:
                m.submodules[name] = ResetInserter(self.clear)(block)
        m.submodules.store = store = self._store

        # Keys in flight reserve their place in the store, so the store never refuses a row.
        in_flight = Signal(range(p.depth + 1))
        accept = Signal()
        written = Signal()
        m.d.comb += [
            self.keys.ready.eq((store.count + in_flight < p.depth) & ~self.clear),
            accept.eq(self.keys.valid & self.keys.ready),
            written.eq(store.w.valid & store.w.ready),
        ]
        with m.If(self.clear):
            m.d.sync += in_flight.eq(0)
        with m.Elif(accept & ~written):
            m.d.sync += in_flight.eq(in_flight + 1)
        with m.Elif(written & ~accept):
            m.d.sync += in_flight.eq(in_flight - 1)

        rotator_in = key_delay.i if key_delay is not None else key_rotator.i
        norm_out = norm_delay.o if norm_delay is not None else norm.o
        m.d.comb += [
            key_rotator.signs.eq(signs),
            norm.i.valid.eq(accept),
            norm.i.payload.eq(self.keys.payload),
            rotator_in.valid.eq(accept),
            rotator_in.payload.eq(self.keys.payload),
            # Both paths always advance and have the same latency: their outputs arrive together.
            key_rotator.o.ready.eq(1),
            norm_out.ready.eq(1),
            quantizer.i.valid.eq(key_rotator.o.valid),
            quantizer.i.payload.rotated.eq(key_rotator.o.payload),
            quantizer.i.payload.norm.eq(norm_out.payload.norm),
            quantizer.i.payload.field.eq(norm_out.payload.field),
            store.clear.eq(self.clear),
            self.count.eq(store.count),
            self.full.eq(store.full),
        ]
        if key_delay is not None:
            wiring.connect(m, key_delay.o, key_rotator.i)
        if norm_delay is not None:
            wiring.connect(m, norm.o, norm_delay.i)
        wiring.connect(m, quantizer.o, store.w)

        # -- Read path. ----------------------------------------------------------------------
        m.submodules.query_rotator = query_rotator = self._query_rotator
        m.submodules.table = table = self._table
        m.submodules.score = score = self._score
        # Rows read from the store land in this FIFO; reads are issued only while it has room
        # for every row still on its way, which keeps one row per cycle flowing.
        m.submodules.rows = rows = fifo.SyncFIFOBuffered(
            width=p.row_width, depth=store.read_latency + 3)
        m.d.comb += query_rotator.signs.eq(signs)
        wiring.connect(m, wiring.flipped(self.queries), query_rotator.i)
        wiring.connect(m, query_rotator.o, table.i)

        table_held = Signal.like(table.o.payload)
        busy = Signal()      # a query is being scored
        keys = Signal(range(p.depth + 1))       # keys the query scores
        issued = Signal(range(p.depth + 1))     # rows read so far
        emitted = Signal(range(p.depth + 1))    # scores sent so far
        outstanding = Signal(range(rows.depth + 1))
        read = Signal()
        m.d.comb += [
            table.o.ready.eq(~busy),
            read.eq(busy & (issued < keys) & (outstanding < rows.depth)),
            store.read_en.eq(read),
            store.read_addr.eq(issued),
        ]
        with m.If(table.o.valid & ~busy):
            m.d.sync += [
                table_held.eq(table.o.payload),
                keys.eq(store.count),
                issued.eq(0),
                emitted.eq(0),
                busy.eq(store.count != 0),
            ]
        with m.If(read):
            m.d.sync += issued.eq(issued + 1)

        arriving = Signal(store.read_latency)
        m.d.sync += arriving.eq((arriving << 1) | read)
        popped = Signal()
        m.d.comb += [
            rows.w_en.eq(arriving[-1]),
            rows.w_data.eq(store.read_data),
            score.table.eq(table_held),
            score.i.valid.eq(rows.r_rdy),
            score.i.payload.eq(rows.r_data),
            rows.r_en.eq(score.i.ready),
            popped.eq(rows.r_rdy & score.i.ready),
        ]
        with m.If(read & ~popped):
            m.d.sync += outstanding.eq(outstanding + 1)
        with m.Elif(popped & ~read):
            m.d.sync += outstanding.eq(outstanding - 1)

        last = Signal()
        m.d.comb += [
            last.eq(emitted == keys - 1),
            self.scores.valid.eq(score.o.valid),
            self.scores.payload.score.eq(score.o.payload),
            self.scores.payload.last.eq(last),
            score.o.ready.eq(self.scores.ready),
        ]
        with m.If(self.scores.valid & self.scores.ready):
            m.d.sync += emitted.eq(emitted + 1)
            with m.If(last):
                m.d.sync += busy.eq(0)
        return m
