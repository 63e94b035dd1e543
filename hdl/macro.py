"""The AXELRAM macro: key write path, index store, and the read path that scores every key."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from ..golden.signs import sign_bits
from .arith import add_carry, wrap_increment
from .encoder import KeyEncoder
from .pipeline import DistributedFIFO, Folded, counter_below, register
from .score import ScoreDatapath
from .store import IndexStore
from .stream_rotator import StreamRotator
from .table import QueryTable

__all__ = ["Macro"]

#: Registers on the row's way from the encoder to the store.
_WRITE_HOPS = 2


class Macro(Folded, wiring.Component):
    """Stores keys as packed indices and scores every stored key against each query.

    Keys and queries arrive as ``d / L`` beats of ``L = lanes`` coordinates (beat ``k`` carries
    coordinates ``k*L .. k*L + L - 1``; beats are counted from reset). ``L = d`` takes a whole
    vector per cycle.

    Write path, one key per ``d / L`` cycles: the :class:`~axelram.hdl.encoder.KeyEncoder`
    turns a key into a row that the index store appends; it never waits for the store.
    ``keys.ready`` is low at a key's first beat while the keys already accepted would fill the
    store (``depth`` keys, counting those still in flight).

    Read path: the query is rotated, ``L`` coordinates per cycle, and turned into the query
    table, written into one of the score datapath's two table banks (LUT RAM) one entry per
    coordinate and cycle, ``min(2**(b-1), d / L)`` beats at once; then the store is read in
    insertion order, one row per cycle, into the score datapath against that bank: one score
    per stored key and cycle, whatever ``L``. A query is scored against the keys counted when
    its table is ready (keys still in the write path are not); a query against an empty store
    produces no score. The next query's table is written into the other bank while the current
    one is scored, and its reads follow the current query's last read after two idle cycles
    when its table was ready by then (the table takes the next query's beats once the current
    query's reads have begun, for ``max(d / L, 2**(b-1)) +`` its latency cycles:
    :class:`~axelram.hdl.table.QueryTable`). Nothing on the read path stalls: a read is issued
    only with a place reserved for its score in the output FIFO (``read_latency + score
    latency + 4`` places, enough for one score per cycle while ``scores.ready`` stays high),
    so ``scores.ready`` drives no clock enable across the datapath.

    With its own rotator (the default) the query path runs beside the write path. With
    ``share_rotator`` the query takes ``d / L`` cycles of the write path's rotator instead (keys
    wait, queries come first), one query at a time (the next one enters once the table unit has
    handed over the previous table, so a query never blocks the keys in the rotator):
    ``(L/2) log2 L + L log2(d/L)`` butterflies fewer, and key writes paused for up to
    ``max(d / L, 2**(b-1))`` cycles per query (the table takes a beat per cycle, or per
    ``2**(b-1) L / d`` cycles when ``d / L < 2**(b-1)``).

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

    def __init__(self, params: Params, *, lanes: int | None = None, signs=None,
                 share_rotator: bool = False):
        lanes = self._fold(params, lanes)
        if signs is not None:
            signs = tuple(int(s) for s in signs)
            if len(signs) != params.d or set(signs) - {-1, 1}:
                raise ValueError(f"signs must be {params.d} values of +1 or -1")
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
        self._query_rotator = (None if share_rotator
                               else StreamRotator(params, lanes, consumer_pauses=True))
        self._table, self._score = QueryTable(params, lanes), ScoreDatapath(params, lanes)

    @property
    def latencies(self) -> dict:
        """Latencies in cycles (an input transferred in cycle ``c`` shows in cycle
        ``c + latency``): ``write``, a key's last beat accepted to ``count`` incremented;
        ``query``, a query's first beat accepted (macro idle, store not empty) to its first
        score valid, its beats back to back. Then one score per cycle."""
        rotator = (self._encoder.rotator if self._share_rotator else self._query_rotator)
        # The query starts the cycle after its table is complete, its first read is issued
        # the next cycle; the score leaves the waiting FIFO two cycles after it enters.
        read = 2 + self._store.read_latency + self._score.latency + 2
        return {
            "write": self._encoder.latency + _WRITE_HOPS + 1,
            "query": rotator.latency + self._table_cycles + read,
        }

    def query_interval(self, keys: int) -> int:
        """Cycles from a query's first score to the next query's, with ``keys`` (at least 1)
        stored, the next query waiting at ``queries`` and ``scores`` always ready: ``keys + 2``
        (the reads, then two idle cycles) when the next query's table is written by then, else
        the table's cycles. The table takes the next query's beats once the current query's
        first row has left the store, ``read_latency + 1`` cycles after it starts (with
        ``share_rotator``, the query enters the rotator then), and is complete ``hold * d / L -
        1 + table latency`` cycles after its first beat; the query starts the cycle after."""
        entering = self._encoder.rotator.latency if self._share_rotator else 0
        return max(keys + 2, self._store.read_latency + 2 + entering + self._table_cycles)

    @property
    def _table_cycles(self) -> int:
        """Cycles from a query's first beat into the table unit to its table complete: a beat
        taken every ``hold`` cycles, then the table's latency."""
        return self.beats * self._table.hold - 1 + self._table.latency

    @property
    def _score_fifo_depth(self) -> int:
        """Places for the scores of every read in flight at one read per cycle: a read's
        place is free again two cycles after its score leaves (the departure is counted from a
        register), ``read_latency + score latency + 2 + 2`` cycles after the read."""
        return self._store.read_latency + self._score.latency + 4

    def elaborate(self, platform):
        p, beats = self._params, self.beats
        m = Module()
        if self._signs is None:
            signs = self.signs
        else:
            signs = Const(sign_bits(self._signs), p.d)

        # -- Write path: the encoder's rows always go to the store. ---------------------------
        m.submodules.encoder = encoder = self._encoder
        m.submodules.store = store = self._store
        m.submodules.table = table = self._table

        # Keys in flight reserve their place in the store, so the store never refuses a row:
        # `reserved` counts the keys stored or on their way (a key enters at its first beat),
        # and `room` (a register, off the handshake's critical path) says it is below `depth`.
        # After a clear, the rows still in flight are `stale` and discarded as they arrive; the
        # encoder holds fewer than `write + beats` keys. The accepting handshake drives only
        # `room`'s clock enable (it takes a comparison of registers with a constant): `reserved`
        # and `in_flight` take a key's entry from the register `entered`, a cycle late (the
        # handshake into `reserved`'s clock enables was the d=128 macro's critical path). The
        # rows' side (`in_flight`, `stale`) has its own copy, `counted`, two cycles late
        # (`keep`, so that synthesis merges none of them): one register placed by `reserved`
        # ran 2.8 ns of routing to `in_flight`, one beside `in_flight` 1.6 ns from the
        # handshake's three LUT levels, in the d=128 macro.
        reserved = Signal(range(p.depth + 1))   # keys entered before the previous cycle
        room = Signal(init=1)
        in_flight = Signal(range(self.latencies["write"] + beats + 1))
        stale = Signal.like(in_flight)
        fresh = Signal(init=1)   # stale == 0, a register
        key_beat = Signal(range(beats))
        first_beat = Signal(init=1)   # key_beat == 0, a register for keys.ready
        enter = Signal()         # a key's first beat is accepted
        entered = Signal(attrs={"keep": 1})   # `enter`, one cycle later
        counting = Signal(attrs={"keep": 1})  # the same, on its way to the rows' side
        counted = Signal(attrs={"keep": 1})   # `enter`, two cycles later
        arriving = Signal()      # a row leaves the encoder
        m.d.comb += [
            self.keys.ready.eq(~self.clear & encoder.i.ready & (~first_beat | room)),
            encoder.i.valid.eq(self.keys.valid & self.keys.ready),
            encoder.i.payload.eq(self.keys.payload),
            encoder.signs.eq(signs),
            enter.eq(encoder.i.valid & first_beat),
            arriving.eq(encoder.o.valid),
            encoder.o.ready.eq(1),
            store.clear.eq(self.clear),
            self.count.eq(store.count),
            self.full.eq(store.full),
        ]
        # The row crosses the die from the encoder to the store through _WRITE_HOPS registers
        # (the quantizer's row register spreads over the die: with one, a bit of it ran 4.5 ns
        # of routing to the hop in the d=128 macro). A row in a hop during a clear is discarded
        # (by the store's `w.ready`, low, for the last).
        valid, row = arriving & fresh, encoder.o.payload
        for n in range(_WRITE_HOPS):
            hop_valid = Signal(name=f"row_valid_{n}")
            hop = Signal(p.row_width, reset_less=True, name=f"row_{n}")
            m.d.sync += [hop_valid.eq(valid & ~self.clear), hop.eq(row)]
            valid, row = hop_valid, hop
        m.d.comb += [store.w.valid.eq(valid), store.w.payload.eq(row)]
        with m.If(encoder.i.valid):
            m.d.sync += [key_beat.eq(wrap_increment(key_beat, beats)),
                         first_beat.eq(key_beat == beats - 1)]
        m.d.sync += [entered.eq(enter), counting.eq(enter), counted.eq(counting)]
        with m.If(self.clear):
            m.d.sync += [reserved.eq(0), room.eq(1)]
        with m.Else():
            m.d.sync += reserved.eq(add_carry(reserved, Const(0, len(reserved)), entered))
            with m.If(enter):   # reserved + entered < depth - 1, comparisons side by side
                m.d.sync += room.eq(Mux(entered, reserved < p.depth - 2, reserved < p.depth - 1))
        m.d.sync += in_flight.eq(in_flight + counted - arriving)
        # `drained` (in_flight == 0) and `single` (in_flight == 1) are registers, so that a
        # clear's `fresh` takes no adder: in_flight + counted - arriving == 0.
        drained = Signal(init=1)
        single = Signal()
        m.d.sync += [drained.eq(drained & (counted == arriving) | single & arriving & ~counted),
                     single.eq(drained & counted & ~arriving | single & (counted == arriving)
                               | (in_flight == 2) & arriving & ~counted)]
        # `stale` loads two cycles after a clear (`clearing`), from `in_flight`: no key enters
        # during a clear, so `in_flight` then counts every key in flight at the clear (the last
        # counted the cycle before), less the row arriving then (stale too). Its load takes no
        # `counted` (2.5 ns of routing into the adder in the d=128 macro), one adder of
        # registers. Until then `fresh` is whether `in_flight` will be 0 (no row of a key not
        # yet counted can arrive so soon).
        clearing = [Signal(name=f"clearing_{n}") for n in range(2)]  # clear, 1 and 2 cycles late
        m.d.sync += [clearing[0].eq(self.clear), clearing[1].eq(clearing[0])]
        with m.If(self.clear | clearing[0] | clearing[1]):
            m.d.sync += fresh.eq(drained & (counted == arriving) | single & arriving & ~counted)
        with m.Elif(arriving & ~fresh):
            m.d.sync += fresh.eq(stale == 1)
        with m.If(clearing[1]):
            m.d.sync += stale.eq(in_flight - arriving)
        with m.Elif(arriving & ~fresh):
            m.d.sync += stale.eq(stale - 1)

        # -- Read path. ----------------------------------------------------------------------
        # `busy`: a query's rows are being read. The store's read enable and the read
        # pipeline take their own copy of it (`busy_store`, `read_store`; both `keep`, so that
        # synthesis does not merge them): one `read` placed between the counters and the
        # store's address registers ran 3.6 ns of routing from `places` to `remaining`'s enable
        # in the d=128 macro. The FIFO's credit counter takes a third (`busy_credit`): through
        # `read`, placed by the counters, `places` took 3.9 ns of routing back into itself.
        busy = Signal(attrs={"keep": 1})
        busy_store = Signal(attrs={"keep": 1})
        busy_credit = Signal(attrs={"keep": 1})
        # So does the score FIFO's credit flag (`places`: the reads' `places_read`, the
        # store's `places_store`), each copy's next value made of its own read, and each copy
        # of `busy` drops on its own read: one `places` ran 3.8 ns of routing into the store's
        # read trunks, and 4.2 through `read` into `busy_credit`'s enable; copies loaded from
        # `read_credit` took three LUT levels and 4.2 ns of routing.
        places_read = Signal(init=1, attrs={"keep": 1})
        places_store = Signal(init=1, attrs={"keep": 1})
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
                m.d.sync += query_beat.eq(wrap_increment(query_beat, beats))
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
        # Scores wait in this FIFO. A read is issued only with a place there reserved for its
        # score (counting the reads whose score has not left it), so nothing on
        # the read path waits for `scores.ready`: no handshake drives a clock enable across the
        # score datapath.
        m.submodules.waiting = waiting = DistributedFIFO(width=p.score_width + 1,
                                                          depth=self._score_fifo_depth)

        # A query starts (`start`, a register, with no comparison of counters in front of it:
        # the table's valid crossed the die into the read counters' selects) the cycle after
        # its table is complete and the previous query's last read is issued: it counts the
        # stored keys and takes the table's bank, which its reads carry to the score datapath.
        # The table is taken on `table.o` (`loading`) `read_latency` cycles later (`pending`
        # meanwhile), once the previous query's last row (read at start - 1 or before) has
        # reached the score datapath: from then on, the next query's table may be written over
        # the previous one's bank.
        issued = Signal(range(p.depth))         # rows read so far
        remaining = Signal(range(p.depth))      # reads after the next one
        start = Signal()
        read = Signal()
        read_store = Signal()
        read_credit = Signal()
        last_read = Signal()
        popped = Signal()
        # `places` is a register: fewer reads are outstanding (their score not yet out of the
        # FIFO, as `left` says a cycle late) than the FIFO has places. The FIFO's output
        # handshake drives only `left`, placed anywhere between the FIFO and the counter (a
        # handshake into the counter's adder crossed the die: 136 MHz).
        left = register(m, 1, popped)
        places = counter_below(m, read_credit, left, waiting.depth,
                               copies=((places_read, read), (places_store, read_store)))
        loading = start
        for _ in range(store.read_latency):
            loading = register(m, 1, loading)
        read_bank = Signal()
        with m.If(start):
            m.d.sync += read_bank.eq(table.o.payload)
        # `pending`, a register, is high from start + 1 to the table's transfer.
        pending = Signal()
        m.d.sync += [pending.eq(start | (pending & ~loading)),
                     start.eq(~busy & table.o.valid & ~pending & ~start)]
        m.d.comb += [
            table.o.ready.eq(loading),
            read.eq(busy & places_read),
            read_store.eq(busy_store & places_store),
            read_credit.eq(busy_credit & places),
            store.read_en.eq(read_store),
            store.read_addr.eq(issued),
        ]
        for written, writing in zip(table.fill, score.fill, strict=True):
            wiring.connect(m, written, writing)
        # `last_read` is a register (whether the next read is the query's last), so that no
        # comparison of the row counters feeds `busy`'s enable. A query starts from the store's
        # flags (`empty`, `single`: registers); the comparison of `remaining` with 1 is a
        # subtraction's sign (`_below`): a carry chain, where Yosys made the equality a tree of
        # four LUT levels and more (5.4 ns in the d=128 macro).
        with m.If(start):
            m.d.sync += [issued.eq(0), remaining.eq(store.count - 1),
                         last_read.eq(store.single),
                         *(b.eq(~store.empty) for b in (busy, busy_store, busy_credit))]
        with m.Elif(read):
            m.d.sync += [issued.eq(issued + 1), remaining.eq(remaining - 1),
                         last_read.eq(_below(remaining, 2) & remaining[0])]
        # (`start` comes only while `busy` is low: no read then.)
        for b, b_read in ((busy, read), (busy_store, read_store), (busy_credit, read_credit)):
            with m.If(b_read & last_read):
                m.d.sync += b.eq(0)

        # Each read's row reaches the datapath `read_latency` cycles later; its table bank goes
        # along, and whether it is the query's last, which joins its score in the FIFO.
        valid, last, bank = read_store, last_read, read_bank
        for _ in range(self._store.read_latency):
            valid, last, bank = (register(m, 1, x) for x in (valid, last, bank))
        m.d.comb += [
            score.i.valid.eq(valid),
            score.i.payload.row.eq(store.read_data),
            score.i.payload.bank.eq(bank),
        ]
        for _ in range(self._score.latency):
            last = register(m, 1, last)
        m.d.comb += [
            waiting.w_en.eq(score.o.valid),
            waiting.w_data.eq(Cat(score.o.payload, last)),
            self.scores.valid.eq(waiting.r_rdy),
            self.scores.payload.eq(waiting.r_data),
            waiting.r_en.eq(self.scores.ready),
            popped.eq(waiting.r_rdy & waiting.r_en),
        ]
        return m


def _below(count, limit: int):
    """``count < limit`` for an unsigned ``count``: the sign of ``count - limit``, a carry
    chain."""
    return (count - limit)[-1]
