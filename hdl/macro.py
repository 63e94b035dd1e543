"""The AXELRAM macro: key write path, index store, and the read path that scores every key."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
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

    Read path: the query is rotated and turned into the query table, which is held in a register
    while the store is read in insertion order, one row per cycle, into the score datapath: one
    score per stored key and cycle. A query is scored against the keys counted when its table is
    ready (keys still in the write path are not); a query against an empty store produces no
    score. The next query's table is computed while the current one is scored.

    With its own rotator (the default) the query path runs beside the write path. With
    ``share_rotator`` the query takes one cycle of the write path's rotator instead (keys wait
    that cycle, queries come first), one query at a time, through the same delay: ``d/2 log2 d``
    butterflies fewer, a longer query latency, and key writes paused for one cycle per query.

    ``clear`` (a one-cycle pulse) empties the store; the keys still in the write path are
    discarded as they arrive. A query being scored still produces one score per key it counted
    when it started; keys written after the clear replace the rows they land on.

    Parameters
    ----------
    params : Params
    signs : sequence of +-1, or None
        The sign vector, fixed in a ROM; ``None`` adds the ``signs`` input port instead.
    share_rotator : bool
        Rotate queries with the write path's rotator (see above).

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

    # Cycles from a row on the store's read port to the row entering the score datapath: the
    # FIFO's write and its output buffer.
    _ROW_TO_DATAPATH = 2

    def __init__(self, params: Params, *, signs=None, share_rotator: bool = False):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        if signs is not None:
            signs = tuple(int(s) for s in signs)
            if len(signs) != params.d or set(signs) - {-1, 1}:
                raise ValueError(f"signs must be {params.d} values of +1 or -1")
        self._params = params
        self._signs = signs
        self._share_rotator = bool(share_rotator)
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
        self._norm, self._rotator, self._quantizer = (
            NormUnit(params), Rotator(params), Quantizer(params))
        # The norm unit is the longer path: its square root alone has norm_width stages.
        self._rotator_delay = Delay(data.StructLayout({"vector": vector, "query": 1}),
                                    self._norm.latency - self._rotator.latency)
        self._store = IndexStore(params)
        self._query_rotator = None if share_rotator else Rotator(params)
        self._table, self._score = QueryTable(params), ScoreDatapath(params)

    @property
    def params(self) -> Params:
        return self._params

    @property
    def latencies(self) -> dict:
        """Latencies in cycles (an input transferred in cycle ``c`` shows in cycle
        ``c + latency``): ``write``, key accepted to ``count`` incremented; ``query``, query
        accepted (macro idle, store not empty) to its first score valid. Then one score per
        cycle."""
        rotation = (self._rotator_delay.latency + self._rotator.latency if self._share_rotator
                    else self._query_rotator.latency)
        # The table is latched as it leaves the table unit; the first read is issued next cycle.
        read_start = 1 + self._store.read_latency + self._ROW_TO_DATAPATH
        return {
            "write": self._norm.latency + self._quantizer.latency + 1,
            "query": rotation + self._table.latency + read_start + self._score.latency,
        }

    def elaborate(self, platform):
        p = self._params
        m = Module()
        if self._signs is None:
            signs = self.signs
        else:
            signs = Const(sum(1 << j for j, s in enumerate(self._signs) if s < 0), p.d)

        # -- Write path: always advancing, so its two branches stay aligned. -------------------
        m.submodules.norm = norm = self._norm
        m.submodules.rotator_delay = delay = self._rotator_delay
        m.submodules.rotator = rotator = self._rotator
        m.submodules.quantizer = quantizer = self._quantizer
        m.submodules.store = store = self._store
        m.submodules.table = table = self._table

        # Keys in flight reserve their place in the store, so the store never refuses a row.
        # After a clear, the rows still in flight are `stale` and discarded as they arrive. A key
        # spends fewer than `write` cycles in flight, and at most one enters per cycle.
        in_flight = Signal(range(self.latencies["write"] + 1))
        stale = Signal.like(in_flight)
        accept = Signal()        # a key enters the write path
        take_query = Signal()    # a query enters the shared rotator path
        arriving = Signal()      # a row leaves the quantizer
        m.d.comb += [
            self.keys.ready.eq(~self.clear & ~take_query &
                               (store.count + in_flight - stale < p.depth)),
            accept.eq(self.keys.valid & self.keys.ready),
            arriving.eq(quantizer.o.valid),
            quantizer.o.ready.eq(1),
            store.w.valid.eq(arriving & ~self.clear & (stale == 0)),
            store.w.payload.eq(quantizer.o.payload),
            store.clear.eq(self.clear),
            self.count.eq(store.count),
            self.full.eq(store.full),
        ]
        m.d.sync += in_flight.eq(in_flight + accept - arriving)
        with m.If(self.clear):
            m.d.sync += stale.eq(in_flight - arriving)
        with m.Elif(arriving & (stale != 0)):
            m.d.sync += stale.eq(stale - 1)

        # Which rotator stages hold a query rather than a key (the rotator always advances).
        query_stages = Signal(rotator.latency)
        m.d.sync += query_stages.eq(Cat(delay.o.valid & delay.o.payload.query, query_stages))
        rotated_query = query_stages[-1]
        m.d.comb += [
            norm.i.valid.eq(accept),
            norm.i.payload.eq(self.keys.payload),
            delay.i.valid.eq(accept | take_query),
            delay.i.payload.vector.eq(Mux(take_query, self.queries.payload, self.keys.payload)),
            delay.i.payload.query.eq(take_query),
            rotator.signs.eq(signs),
            rotator.i.valid.eq(delay.o.valid),
            rotator.i.payload.eq(delay.o.payload.vector),
            delay.o.ready.eq(rotator.i.ready),
            rotator.o.ready.eq(1),
            norm.o.ready.eq(1),
            quantizer.i.valid.eq(rotator.o.valid & ~rotated_query),
            quantizer.i.payload.rotated.eq(rotator.o.payload),
            quantizer.i.payload.norm.eq(norm.o.payload.norm),
            quantizer.i.payload.field.eq(norm.o.payload.field),
        ]

        # -- Read path. ----------------------------------------------------------------------
        busy = Signal()          # a query is being scored
        if self._share_rotator:
            # One query at a time in the shared path: the table unit is then always empty when
            # it arrives, so the rotator never has to wait for it.
            query_in_flight = Signal()
            m.d.comb += [
                self.queries.ready.eq(~query_in_flight),
                take_query.eq(self.queries.valid & ~query_in_flight),
                table.i.valid.eq(rotator.o.valid & rotated_query),
                table.i.payload.eq(rotator.o.payload),
            ]
            with m.If(take_query):
                m.d.sync += query_in_flight.eq(1)
            with m.Elif(table.o.valid & ~busy):
                m.d.sync += query_in_flight.eq(0)
        else:
            m.submodules.query_rotator = query_rotator = self._query_rotator
            m.d.comb += query_rotator.signs.eq(signs)
            wiring.connect(m, wiring.flipped(self.queries), query_rotator.i)
            wiring.connect(m, query_rotator.o, table.i)

        m.submodules.score = score = self._score
        # Rows read from the store land in this FIFO; reads are issued only while it has room
        # for every row still on its way, which keeps one row per cycle flowing.
        m.submodules.rows = rows = fifo.SyncFIFOBuffered(
            width=p.row_width, depth=store.read_latency + 3)

        table_held = Signal.like(table.o.payload)
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

        reading = Signal(store.read_latency)    # reads on their way out of the RAM
        m.d.sync += reading.eq((reading << 1) | read)
        popped = Signal()
        m.d.comb += [
            rows.w_en.eq(reading[-1]),
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
