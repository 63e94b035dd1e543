"""The whole macro against the golden model: keys in, queries in, one score per stored key out."""

import itertools

import cocotb
import numpy as np
import pytest
from cocotb.triggers import FallingEdge, ReadOnly

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed
from axelram.hdl.macro import Macro
from axelram.verif import harness
from axelram.verif.tb import KeyQueryTB, case, case_rng
from axelram.verif.vectors import random_vectors


class MacroTB(KeyQueryTB):
    """Drives keys and queries, collects scores grouped per query (``last`` closes a group)."""

    def __init__(self, dut, gaps=False, backpressure=False, rng=None):
        super().__init__(dut, gaps, backpressure, rng, lanes=case()["lanes"])
        self.signs = signs_from_seed(case()["sign_seed"], self.p.d)
        self.score_width = self.p.score_width
        # Enough for the whole store at full rate, with gaps.
        self.count_timeout = 4 * self.p.depth + 2000

    def macro(self) -> Macro:
        """The macro under test, for its latencies."""
        return Macro(self.p, lanes=self.lanes, share_rotator=case()["share_rotator"])

    def check(self, keys, queries, groups):
        """Each query scored the first ``len(group)`` keys, exactly as the golden model does."""
        assert len(groups) == len(queries)
        idx, field = fixed.write_keys(keys, self.signs, self.p)
        for query, group in zip(queries, groups, strict=True):
            assert 1 <= len(group) <= len(keys)
            n = len(group)
            expected = fixed.scores(query[None], idx[:n], field[:n], self.signs, self.p)[0]
            np.testing.assert_array_equal(group, expected)


@cocotb.test()
@cocotb.parametrize(gaps=[False, True], backpressure=[False, True])
async def macro_store_then_query(dut, gaps, backpressure):
    """Keys, then queries; every query scores every key; idle gaps and backpressure."""
    tb = MacroTB(dut, gaps, backpressure, case_rng(2 * gaps + backpressure))
    await tb.reset()
    keys = tb.store_stimulus()
    queries = tb.stimulus(4)
    await tb.write_keys(keys)
    assert int(dut.full.value) == 1
    await tb.queries.send(tb.pack(queries))
    await tb.scores.wait_for(len(queries) * len(keys),
                             40 * len(queries) * (len(keys) + tb.beats) + 500)
    tb.check(keys, queries, tb.groups())
    assert all(len(g) == len(keys) for g in tb.groups())


@cocotb.test()
async def macro_interleaved(dut):
    """Keys and queries at the same time: each query scores the keys stored when it started."""
    tb = MacroTB(dut, True, True, case_rng(10))
    await tb.reset()
    keys = tb.store_stimulus()
    queries = tb.stimulus(6)
    await tb.write_while_querying(keys, queries)
    await tb.scores.wait_for(1, 100)
    for _ in range(40 * len(queries) * (len(keys) + tb.beats)):
        if len(tb.scores.received) and tb.scores.received[-1] >> tb.p.score_width and \
                len(tb.groups()) == len(queries):
            break
        await FallingEdge(tb.clk)
    groups = tb.groups()
    tb.check(keys, queries, groups)
    assert [len(g) for g in groups] == sorted(len(g) for g in groups)


@cocotb.test()
async def macro_small_stores(dut):
    """Queries against 0, 1, 2 and 3 stored keys: the empty store gives no score, then
    exactly one score per stored key, the last one marked."""
    tb = MacroTB(dut, rng=case_rng(40))
    await tb.reset()
    keys, query = tb.stimulus(3)[-3:], random_vectors(tb.rng, tb.p, 1)
    settle = tb.macro().latencies["query"] + 4 * tb.beats + 50
    await tb.queries.send(tb.pack(query))
    await tb.cycles(settle)
    assert not tb.scores.received
    for n in range(1, len(keys) + 1):
        await tb.keys.send(tb.pack(keys[n - 1:n]))
        await tb.wait_count(n)
        await tb.queries.send(tb.pack(query))
        await tb.scores.wait_for(n * (n + 1) // 2, settle + n)
    await tb.cycles(settle)
    groups = tb.groups()
    assert [len(g) for g in groups] == [1, 2, 3]
    tb.check(keys, np.repeat(query, 3, axis=0), groups)


@cocotb.test()
async def macro_full_store_refuses_keys(dut):
    """At ``depth`` keys the store is full: further keys wait and are not written."""
    tb = MacroTB(dut)
    await tb.reset()
    keys = tb.store_stimulus(extra=3)
    writer = cocotb.start_soon(tb.keys.send(tb.pack(keys)))
    await tb.wait_count(tb.p.depth)
    await tb.cycles(50)
    assert tb.keys.sent == tb.p.depth * tb.beats and int(dut.full.value) == 1
    assert int(dut.count.value) == tb.p.depth
    writer.cancel()
    dut.keys__valid.value = 0
    await tb.queries.send(tb.pack(keys[:1]))
    await tb.scores.wait_for(tb.p.depth, 40 * (tb.p.depth + tb.beats) + 500)
    tb.check(keys[: tb.p.depth], keys[:1], tb.groups())


@cocotb.test()
async def macro_clear(dut):
    """``clear`` empties the store; the keys written afterwards are the ones scored."""
    tb = MacroTB(dut)
    await tb.reset()
    old, new = tb.stimulus(5), tb.stimulus(3)
    await tb.write_keys(old)
    await tb.clear()
    await tb.write_keys(new)
    queries = random_vectors(tb.rng, tb.p, 2)
    await tb.queries.send(tb.pack(queries))
    await tb.scores.wait_for(2 * len(new), 8 * len(new) + 4000)
    tb.check(new, queries, tb.groups())
    assert all(len(g) == len(new) for g in tb.groups())


@cocotb.test()
async def macro_clear_with_keys_in_flight(dut):
    """A clear while keys are still in the write path discards them too; a full store's worth
    of keys can follow at once, while the discarded ones are still in flight."""
    tb = MacroTB(dut, rng=case_rng(30))
    await tb.reset()
    old, new = tb.stimulus(4), random_vectors(tb.rng, tb.p, tb.p.depth)
    await tb.keys.send(tb.pack(old))  # the last keys are still in flight now
    dut.clear.value = 1
    await FallingEdge(tb.clk)
    dut.clear.value = 0
    await tb.write_keys(new)
    await tb.cycles(tb.macro().latencies["write"])
    assert int(dut.count.value) == len(new)
    queries = random_vectors(tb.rng, tb.p, 2)
    await tb.queries.send(tb.pack(queries))
    await tb.scores.wait_for(2 * len(new), 8 * len(new) + 4000)
    tb.check(new, queries, tb.groups())


@cocotb.test()
async def macro_clear_in_each_cycle_of_a_write(dut):
    """A clear in any cycle of a key's way from its last beat to the store (in the encoder, in
    the row's hops, entering the store) discards it: ``count`` stays 0."""
    tb = MacroTB(dut)
    await tb.reset()
    write = tb.macro().latencies["write"]
    for delay in range(write + 1):
        await tb.keys.send(tb.pack(tb.stimulus(1)))  # returns after the last beat's transfer
        await tb.cycles(delay)
        dut.clear.value = 1
        await FallingEdge(tb.clk)
        dut.clear.value = 0
        await tb.cycles(write + 2)
        count = int(dut.count.value)
        assert count == 0, f"clear {delay} cycles after the last beat: count {count}"


@cocotb.test()
async def macro_one_score_per_cycle(dut):
    """Without backpressure the scores of a query leave on consecutive cycles."""
    tb = MacroTB(dut)
    await tb.reset()
    keys = tb.store_stimulus()
    await tb.write_keys(keys)
    await tb.queries.send(tb.pack(keys[:1]))
    await tb.back_to_back(tb.scores, len(keys))


async def first_scores(tb, count: int) -> list[int]:
    """The cycles of the next ``count`` queries' first scores (the transfers on ``scores`` that
    follow a ``last``, and the first one)."""
    dut, cycles, first = tb.dut, [], True
    for cycle in itertools.count():
        await FallingEdge(tb.clk)
        await ReadOnly()
        if dut.scores__valid.value and dut.scores__ready.value:
            if first:
                cycles.append(cycle)
                if len(cycles) == count:
                    return cycles
            first = bool(dut.scores__payload.value.to_unsigned() >> tb.score_width)
        assert cycle < 100 * count * (tb.p.depth + tb.macro().latencies["query"])


@cocotb.test()
async def macro_query_interval(dut):
    """Queries waiting back to back, ``scores`` always ready: from one query's first score to
    the next's takes the cycles ``Macro.query_interval`` gives, with one key stored and with a
    full store, and every score is right."""
    tb = MacroTB(dut)
    await tb.reset()
    macro = tb.macro()
    keys, queries = tb.store_stimulus(), random_vectors(tb.rng, tb.p, 10)
    scores = 0
    for stored in (keys[:1], keys[1:]):
        await tb.keys.send(tb.pack(stored))
        await tb.wait_count(len(stored) if len(stored) == 1 else len(keys))
        n = int(dut.count.value)
        firsts = cocotb.start_soon(first_scores(tb, len(queries)))
        await tb.queries.send(tb.pack(queries))
        cycles = await firsts
        assert np.diff(cycles).tolist() == [macro.query_interval(n)] * (len(queries) - 1), (
            f"{n} keys: first scores at {cycles}, interval {macro.query_interval(n)}")
        scores += n * len(queries)
        await tb.scores.wait_for(scores, 100 * n + 1000)
    tb.check(keys, np.concatenate([queries, queries]), tb.groups())


@cocotb.test()
async def macro_latencies(dut):
    """The measured write and query latencies are the ones the macro documents."""
    tb = MacroTB(dut)
    await tb.reset()
    measured = await tb.measure_latencies(random_vectors(tb.rng, tb.p, 1)[0])
    assert measured == tb.macro().latencies


@cocotb.test()
async def macro_reset_mid_traffic(dut):
    """Reset while keys and queries are in flight; afterwards the macro works from empty."""
    tb = MacroTB(dut, True, True, case_rng(20))
    await tb.reset()
    await tb.reset_while_busy(tb.store_stimulus())
    assert int(dut.count.value) == 0
    tb = MacroTB(dut, True, True, case_rng(21))
    fresh, queries = tb.stimulus(6), random_vectors(tb.rng, tb.p, 2)
    await tb.write_keys(fresh)
    await tb.queries.send(tb.pack(queries))
    await tb.scores.wait_for(2 * len(fresh), 8 * len(fresh) + 4000)
    tb.check(fresh, queries, tb.groups())


# The 2100-key cases (slow: every test fills the store, three to six minutes each) have the
# index store's 4096-row bank (one 4096 x 4 block RAM per slice), whose row takes four register
# hops, so a read takes 8 cycles; the store's own fast test covers that bank at 4100 rows.
FAST = {(16, 2, 16, 24, 1, True), (16, 3, 16, 24, 4, False),
        (32, 1, 8, 16, 2, False), (8, 3, 8, 24, 8, False), (8, 2, 8, 16, 2, True),
        (8, 3, 8, 24, 4, False), (32, 2, 8, 16, 1, False)}


@pytest.mark.parametrize(("d", "b", "in_width", "depth", "lanes", "share", "simulator"),
                         harness.cases(
    verilator=[(8, 3, 8, 32, 8, False), (32, 1, 8, 16, 2, False), (64, 4, 16, 16, 64, True),
               (8, 3, 8, 2100, 8, False), (16, 3, 16, 2100, 1, True),
               (8, 3, 8, 24, 4, False),  # two table channels, each beat held two cycles
               (8, 4, 8, 16, 2, False),  # four channels, the eight-way entry multiplexer
               (32, 2, 8, 16, 1, False)]  # 32 beats a query: slots the query rotator waits for
    + [(16, b, 16, 24, lanes, share) for b in (2, 3) for lanes in harness.lanes_of(16)
       for share in (False, True)]
    + [(128, 3, 16, 20, lanes, share) for lanes in harness.lanes_of(128)
       for share in (False, True)],
    icarus=[(8, 3, 8, 24, 8, False), (8, 2, 8, 16, 2, True)],
    slow=lambda *c: c not in FAST,
))
def test_macro(d, b, in_width, depth, lanes, share, simulator, request):
    params = {"d": d, "b": b, "in_width": in_width, "depth": depth}
    harness.run(
        Macro(Params(**params), lanes=lanes, signs=signs_from_seed(5, d), share_rotator=share),
        test_module=__name__, case=request.node.name, simulator=simulator,
        env={"params": params, "lanes": lanes, "sign_seed": 5, "share_rotator": share},
        seed=3000 + d + b + lanes,
    )
