"""The AXELRAM macro: key write path, index store, and the read path that scores every key."""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .encoder import KeyEncoder
from .pipeline import Folded, check_lanes
from .score import ScoreDatapath
from .store import IndexStore
from .stream_rotator import StreamRotator
from .table import QueryTable

__all__ = ["Macro"]


class Macro(Folded, wiring.Component):
    """Stores keys as packed indices and scores every stored key against each query.

    Keys and queries arrive as ``d / L`` beats of ``L = lanes`` coordinates (beat ``k`` carries
    coordinates ``k*L .. k*L + L - 1``; beats are counted from reset). ``L = d`` takes a whole
    vector per cycle.

    Write path, one key per ``d / L`` cycles: the :class:`~axelram.hdl.encoder.KeyEncoder`
    turns a key into a row that the index store appends; it never waits for the store.
    ``keys.ready`` is low at a key's first beat while the keys already accepted would fill the
    store (``depth`` keys, counting those still in flight).

    Read path: the query is rotated and turned into the query table, ``L`` coordinates per
    cycle; the table is held in a register while the store is read in insertion order, one row
    per cycle, into the score datapath: one score per stored key and cycle, whatever ``L``. A
    query is scored against the keys counted when its table is ready (keys still in the write
    path are not); a query against an empty store produces no score. The next query's table is
    computed while the current one is scored.

    With its own rotator (the default) the query path runs beside the write path. With
    ``share_rotator`` the query takes ``d / L`` cycles of the write path's rotator instead (keys
    wait, queries come first), one query at a time (the next one enters once the table unit has
    handed over the previous table, so a query never blocks the keys in the rotator):
    ``(L/2) log2 L + L log2(d/L)`` butterflies fewer, and key writes paused for ``d / L``
    cycles per query.

    ``clear`` (a one-cycle pulse) empties the store; the keys whose first beat was accepted
    before it are discarded as they arrive (a key cut by the clear still needs its remaining
    beats). A query being scored still produces one score per key it counted when it started;
    keys written after the clear replace the rows they land on.

    Parameters
    ----------
    params : Params
    lanes : int or None
        ``L``, a power of two in ``1..d``; ``None`` is ``d``.
    signs : sequence of +-1, or None
        The sign vector, fixed in a ROM; ``None`` adds the ``signs`` input port instead.
    share_rotator : bool
        Rotate queries with the write path's rotator (see above).

    Members
    -------
    keys : In(stream.Signature(ArrayLayout(signed(in_width), L)))
    queries : In(stream.Signature(ArrayLayout(signed(in_width), L)))
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

    def __init__(self, params: Params, *, lanes: int | None = None, signs=None,
                 share_rotator: bool = False):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        lanes = check_lanes(params, lanes)
        if signs is not None:
            signs = tuple(int(s) for s in signs)
            if len(signs) != params.d or set(signs) - {-1, 1}:
                raise ValueError(f"signs must be {params.d} values of +1 or -1")
        self._params = params
        self._lanes = lanes
        self._signs = signs
        self._share_rotator = bool(share_rotator)
        beat = data.ArrayLayout(signed(params.in_width), lanes)
        members = {
            "keys": In(stream.Signature(beat)),
            "queries": In(stream.Signature(beat)),
            "scores": Out(stream.Signature(data.StructLayout(
                {"score": signed(params.score_width), "last": 1}))),
            "clear": In(1),
            "count": Out(range(params.depth + 1)),
            "full": Out(1),
        }
        if signs is None:
            members["signs"] = In(params.d)
        super().__init__(members)
        self._encoder = KeyEncoder(params, lanes, queries=share_rotator)
        self._store = IndexStore(params)
        self._query_rotator = None if share_rotator else StreamRotator(params, lanes)
        self._table, self._score = QueryTable(params, lanes), ScoreDatapath(params)

    @property
    def latencies(self) -> dict:
        """Latencies in cycles (an input transferred in cycle ``c`` shows in cycle
        ``c + latency``): ``write``, a key's last beat accepted to ``count`` incremented;
        ``query``, a query's first beat accepted (macro idle, store not empty) to its first
        score valid, its beats back to back. Then one score per cycle."""
        rotator = (self._encoder.rotator if self._share_rotator else self._query_rotator)
        # The table is latched as it leaves the table unit; the first read is issued next cycle.
        read_start = 1 + self._store.read_latency + self._ROW_TO_DATAPATH
        return {
            "write": self._encoder.latency + 1,
            "query": (rotator.latency + self.beats - 1 + self._table.latency + read_start
                      + self._score.latency),
        }

    def elaborate(self, platform):
        p, beats = self._params, self.beats
        m = Module()
        if self._signs is None:
            signs = self.signs
        else:
            signs = Const(sum(1 << j for j, s in enumerate(self._signs) if s < 0), p.d)

        # -- Write path: the encoder's rows always go to the store. ---------------------------
        m.submodules.encoder = encoder = self._encoder
        m.submodules.store = store = self._store
        m.submodules.table = table = self._table

        # Keys in flight reserve their place in the store, so the store never refuses a row:
        # `reserved` counts the keys stored or on their way (a key enters at its first beat),
        # and `room` (a register, off the handshake's critical path) says it is below `depth`.
        # After a clear, the rows still in flight are `stale` and discarded as they arrive; the
        # encoder holds fewer than `write + beats` keys.
        reserved = Signal(range(p.depth + 1))
        room = Signal(init=1)
        in_flight = Signal(range(self.latencies["write"] + beats + 1))
        stale = Signal.like(in_flight)
        key_beat = Signal(range(beats))
        enter = Signal()         # a key's first beat is accepted
        arriving = Signal()      # a row leaves the encoder
        m.d.comb += [
            self.keys.ready.eq(~self.clear & encoder.i.ready & ((key_beat != 0) | room)),
            encoder.i.valid.eq(self.keys.valid & self.keys.ready),
            encoder.i.payload.eq(self.keys.payload),
            encoder.signs.eq(signs),
            enter.eq(encoder.i.valid & (key_beat == 0)),
            arriving.eq(encoder.o.valid),
            encoder.o.ready.eq(1),
            store.w.valid.eq(arriving & ~self.clear & (stale == 0)),
            store.w.payload.eq(encoder.o.payload),
            store.clear.eq(self.clear),
            self.count.eq(store.count),
            self.full.eq(store.full),
        ]
        with m.If(encoder.i.valid):
            m.d.sync += key_beat.eq(Mux(key_beat == beats - 1, 0, key_beat + 1))
        with m.If(self.clear):
            m.d.sync += [reserved.eq(0), room.eq(1)]
        with m.Elif(enter):
            m.d.sync += [reserved.eq(reserved + 1), room.eq(reserved + 1 < p.depth)]
        m.d.sync += in_flight.eq(in_flight + enter - arriving)
        with m.If(self.clear):
            m.d.sync += stale.eq(in_flight - arriving)
        with m.Elif(arriving & (stale != 0)):
            m.d.sync += stale.eq(stale - 1)

        # -- Read path. ----------------------------------------------------------------------
        busy = Signal()          # a query is being scored
        if self._share_rotator:
            # One query at a time in the shared rotator, admitted at its first beat once the
            # table unit has handed over the previous table.
            query_in_flight = Signal()
            query_beat = Signal(range(beats))
            admit = Signal()
            m.d.comb += [
                admit.eq((query_beat != 0) | ~query_in_flight),
                encoder.queries.valid.eq(self.queries.valid & admit),
                encoder.queries.payload.eq(self.queries.payload),
                self.queries.ready.eq(encoder.queries.ready & admit),
            ]
            wiring.connect(m, encoder.rotated_queries, table.i)
            with m.If(self.queries.valid & self.queries.ready):
                m.d.sync += query_beat.eq(Mux(query_beat == beats - 1, 0, query_beat + 1))
                with m.If(query_beat == 0):
                    m.d.sync += query_in_flight.eq(1)
            with m.Elif(table.o.valid & table.o.ready):
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
