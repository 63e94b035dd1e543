"""The conventional baseline: uncompressed keys in block RAM, ``d`` multipliers, an adder tree."""

from functools import partial

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.baseline import baseline_score_width
from ..golden.params import Params
from .arith import tree_depth, tree_sum
from .pipeline import register, stall_pipeline

__all__ = ["ConventionalMacro"]


class ConventionalMacro(wiring.Component):
    """What attention scoring costs without AXELRAM: exact ``q . k`` of every stored key.

    Matches :func:`axelram.golden.baseline.baseline_scores` bit for bit. Keys are stored as they
    arrive, ``d * in_width`` bits each, appended in order (``depth`` keys) to a block RAM; a
    query is held in a register while every stored key is read, one per cycle, into ``d``
    multipliers (registered inputs and outputs, for DSPs) and a pipelined adder tree of
    ``d - 1`` adders: one score per cycle. At d=128, in_width=16: 128 multiplications and 127
    additions per score, 2,048 bits per stored key.

    Writes: one key per cycle, into the RAM from registers in the cycle after its transfer;
    ``count`` increments :attr:`latencies` ``["write"]`` = 1 cycle after the transfer.
    ``keys.ready`` is low while the store is full (``count == depth``) and in a ``clear`` cycle,
    so no key is dropped or overwritten.

    Queries: a query is accepted when the previous one has sent its last score; it scores the
    keys counted in the cycle it is accepted, in insertion order, one score per cycle while
    ``scores.ready`` is high (backpressure stalls the whole read pipeline). The first score is
    valid :attr:`latencies` ``["query"]`` = ``log2(d) + 5`` cycles after the query's transfer. A
    query against an empty store produces no score.

    ``clear`` (a one-cycle pulse) empties the store; a query being scored still produces one
    score per key it counted, and a key written after the clear replaces the row it lands on.

    Parameters
    ----------
    params : Params
        ``d``, ``in_width`` and ``depth`` are used.

    Members
    -------
    keys : In(stream.Signature(ArrayLayout(signed(in_width), d)))
    queries : In(stream.Signature(ArrayLayout(signed(in_width), d)))
    scores : Out(stream.Signature(StructLayout({"score": signed(W), "last": 1})))
        ``W = baseline_score_width(params)``; ``last`` marks a query's final score.
    clear : In(1)
    count : Out(range(depth + 1))
        Keys stored.
    full : Out(1)
        ``count == depth``.
    """

    def __init__(self, params: Params):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        vector = data.ArrayLayout(signed(params.in_width), params.d)
        score = data.StructLayout({"score": signed(baseline_score_width(params)), "last": 1})
        self._params = params
        super().__init__({
            "keys": In(stream.Signature(vector)),
            "queries": In(stream.Signature(vector)),
            "scores": Out(stream.Signature(score)),
            "clear": In(1),
            "count": Out(range(params.depth + 1)),
            "full": Out(1),
        })

    @property
    def params(self) -> Params:
        return self._params

    @property
    def stages(self) -> int:
        """Read pipeline registers: the RAM's read register, its output register, the
        multipliers' key input (the query register is the other input), the products, and one
        per adder-tree level."""
        return 4 + tree_depth(self._params.d)

    @property
    def latencies(self) -> dict:
        """Latencies in cycles (an input transferred in cycle ``c`` shows in cycle
        ``c + latency``): ``write``, a key's transfer to ``count`` incremented; ``query``, a
        query's transfer (store not empty, previous query done) to its first score valid. Then
        one score per cycle."""
        return {"write": 1, "query": 1 + self.stages}

    def elaborate(self, platform):
        p = self._params
        m = Module()
        vector = data.ArrayLayout(signed(p.in_width), p.d)
        m.submodules.memory = mem = memory.Memory(shape=vector, depth=p.depth, init=[],
                                                   attrs={"no_rw_check": 1})

        # -- Writes: append at `count`. -------------------------------------------------------
        # A key goes to the write port's registers (address, data, enable) and into the RAM in
        # the next cycle: the block RAMs' write enables, across the whole store, come from one
        # flip-flop and a bank decoder, not from the handshake. `full` is a register too. A
        # counted key is in the RAM before a query can read it (the first read is issued the
        # cycle after the query's transfer).
        wr = mem.write_port()
        write = Signal()
        m.d.comb += [
            self.keys.ready.eq(~self.full & ~self.clear),
            write.eq(self.keys.valid & self.keys.ready),
        ]
        m.d.sync += wr.en.eq(write)
        with m.If(write):
            m.d.sync += [wr.addr.eq(self.count), wr.data.eq(self.keys.payload)]
        with m.If(self.clear):
            m.d.sync += [self.count.eq(0), self.full.eq(0)]
        with m.Elif(write):
            m.d.sync += [self.count.eq(self.count + 1), self.full.eq(self.count + 1 == p.depth)]

        # -- Reads: one stall pipeline from the read address to the score. -------------------
        busy = Signal()                          # a query is being scored
        query = Signal(vector, reset_less=True)
        keys = Signal(range(p.depth + 1))        # keys the query scores
        emitted = Signal(range(p.depth + 1))     # scores sent so far
        # The read pipeline's input: the next key to read, valid while the query has keys left.
        reads = stream.Signature(range(p.depth + 1)).create(path=("reads",))
        m.d.comb += self.queries.ready.eq(~busy)
        with m.If(self.queries.valid & ~busy):
            m.d.sync += [
                query.eq(self.queries.payload),
                keys.eq(self.count),
                reads.payload.eq(0),
                emitted.eq(0),
                busy.eq(self.count != 0),
            ]
        m.d.comb += reads.valid.eq(busy & (reads.payload < keys))
        advance = stall_pipeline(m, reads, self.scores, self.stages)
        with m.If(reads.valid & advance):
            m.d.sync += reads.payload.eq(reads.payload + 1)

        # As in the index store (hdl/store.py): an asynchronous read port with the block RAM's
        # read register behind it, which Yosys' memory_dff merges into the RAM (with no_rw_check:
        # no read-before-write bypass in fabric), then one more register, because the
        # unregistered block RAM output is slow. Then the multipliers' key input register: the
        # block RAMs and the DSPs lie far apart (4.6 ns of routing from one to the other at
        # d=32, T=4096 on the ECP5-85K). All three hold while the pipeline stalls.
        rd = mem.read_port(domain="comb")
        ram_data, ram_out, key = (Signal(vector, reset_less=True, name=name)
                                  for name in ("ram_data", "ram_out", "key"))
        m.d.comb += rd.addr.eq(reads.payload)
        with m.If(advance):
            m.d.sync += [ram_data.eq(rd.data), ram_out.eq(ram_data), key.eq(ram_out)]

        # Each multiplier between registers (the key's, the query's and its product's), so that
        # Yosys maps it to a MULT18X18D; the tree adds one register level per tree level.
        stage = partial(register, m, advance)
        products = [stage(k * q, signed(baseline_score_width(p, 1)))
                    for k, q in zip(key, query, strict=True)]
        total = tree_sum(products, lambda value: stage(value, value.shape()))

        last = Signal()
        m.d.comb += [
            last.eq(emitted == keys - 1),
            self.scores.payload.score.eq(total),
            self.scores.payload.last.eq(last),
        ]
        with m.If(self.scores.valid & self.scores.ready):
            m.d.sync += emitted.eq(emitted + 1)
            with m.If(last):
                m.d.sync += busy.eq(0)
        return m
