"""The conventional baseline against :func:`axelram.golden.baseline.baseline_scores`."""

import cocotb
import numpy as np
import pytest
from cocotb.triggers import FallingEdge, ReadOnly

from axelram.golden.baseline import baseline_score_width, baseline_scores
from axelram.golden.params import Params
from axelram.hdl.baseline import ConventionalMacro
from axelram.verif import harness
from axelram.verif.tb import KeyQueryTB, case_rng
from axelram.verif.vectors import random_vectors


class BaselineTB(KeyQueryTB):
    """Drives keys and queries, collects scores grouped per query (``last`` closes a group)."""

    def __init__(self, dut, gaps=False, backpressure=False, rng=None):
        super().__init__(dut, gaps, backpressure, rng)
        # No sign vector: the extremes of the stimulus are flipped nowhere (all coordinates at
        # the minimum, at the maximum, alternating, spikes, zero).
        self.signs = np.ones(self.p.d)
        self.score_width = baseline_score_width(self.p)
        self.count_timeout = 200

    async def wait_groups(self, count: int, keys: int):
        """Wait until ``count`` queries have sent their last score."""
        for _ in range(40 * count * (keys + 20) + 200):
            if self.answered() >= count:
                return
            await FallingEdge(self.clk)
        raise AssertionError(f"{self.answered()} of {count} queries answered")

    def answered(self) -> int:
        """Queries whose last score was received."""
        return sum(value >> self.score_width for value in self.scores.received)

    def check(self, keys, queries, groups):
        """Each query scored the first ``len(group)`` keys, exactly as the model does."""
        assert len(groups) == len(queries)
        for query, group in zip(queries, groups, strict=True):
            assert 1 <= len(group) <= len(keys)
            expected = baseline_scores(query[None], keys[:len(group)], self.p)[0]
            np.testing.assert_array_equal(group, expected)


@cocotb.test()
@cocotb.parametrize(gaps=[False, True], backpressure=[False, True])
async def baseline_store_then_query(dut, gaps, backpressure):
    """Keys, then queries; every query scores every key, the extremes included."""
    tb = BaselineTB(dut, gaps, backpressure, case_rng(2 * gaps + backpressure))
    await tb.reset()
    p = tb.p
    keys = tb.store_stimulus()
    queries = tb.stimulus(3)
    await tb.write_keys(keys)
    assert int(dut.full.value) == 1
    await tb.queries.send(tb.pack(queries))
    await tb.wait_groups(len(queries), len(keys))
    tb.check(keys, queries, tb.groups())
    assert all(len(g) == len(keys) for g in tb.groups())
    # The largest and smallest scores any input can give were among them: no overflow.
    scores = np.concatenate(tb.groups())
    assert scores.max() == p.d * p.in_min ** 2 and scores.min() == p.d * p.in_min * p.in_max


@cocotb.test()
async def baseline_interleaved(dut):
    """Keys and queries at the same time: each query scores the keys stored when it started."""
    tb = BaselineTB(dut, True, True, case_rng(10))
    await tb.reset()
    keys = tb.store_stimulus()
    queries = tb.stimulus(2)
    await tb.write_while_querying(keys, queries)
    await tb.wait_groups(len(queries), len(keys))
    groups = tb.groups()
    tb.check(keys, queries, groups)
    assert [len(g) for g in groups] == sorted(len(g) for g in groups)
    assert len(groups[0]) < len(keys), "no query started while keys were still arriving"


@cocotb.test()
async def baseline_full_store_refuses_keys(dut):
    """At ``depth`` keys the store is full: further keys wait and are not written."""
    tb = BaselineTB(dut)
    await tb.reset()
    keys = random_vectors(tb.rng, tb.p, tb.p.depth + 3)
    writer = cocotb.start_soon(tb.keys.send(tb.pack(keys)))
    await tb.wait_count(tb.p.depth)
    await tb.cycles(20)
    assert tb.keys.sent == tb.p.depth and int(dut.full.value) == 1
    assert int(dut.count.value) == tb.p.depth
    writer.cancel()
    dut.keys__valid.value = 0
    await tb.queries.send(tb.pack(keys[:1]))
    await tb.wait_groups(1, tb.p.depth)
    tb.check(keys[:tb.p.depth], keys[:1], tb.groups())


@cocotb.test()
async def baseline_clear(dut):
    """A query against the empty store gives no score; ``clear`` empties the store, and the
    keys written afterwards are the ones scored."""
    tb = BaselineTB(dut)
    await tb.reset()
    old, new = tb.stimulus(3), random_vectors(tb.rng, tb.p, 3)
    await tb.queries.send(tb.pack(old[:1]))
    await tb.cycles(ConventionalMacro(tb.p).latencies["query"] + 10)
    assert tb.scores.received == []
    await tb.write_keys(old)
    await tb.clear()
    await tb.write_keys(new)
    queries = random_vectors(tb.rng, tb.p, 2)
    await tb.queries.send(tb.pack(queries))
    await tb.wait_groups(len(queries), len(new))
    tb.check(new, queries, tb.groups())
    assert all(len(g) == len(new) for g in tb.groups())


@cocotb.test()
async def baseline_one_score_per_cycle(dut):
    """Without backpressure a query's scores leave on consecutive cycles."""
    tb = BaselineTB(dut)
    await tb.reset()
    keys = random_vectors(tb.rng, tb.p, tb.p.depth)
    await tb.write_keys(keys)
    await tb.queries.send(tb.pack(keys[:1]))
    await tb.back_to_back(tb.scores, len(keys))


@cocotb.test()
async def baseline_latencies(dut):
    """The measured write and query latencies are the ones the component documents."""
    tb = BaselineTB(dut)
    await tb.reset()
    measured = await tb.measure_latencies(random_vectors(tb.rng, tb.p, 1)[0])
    assert measured == ConventionalMacro(tb.p).latencies


@cocotb.test()
async def baseline_reset_mid_traffic(dut):
    """Reset while keys, queries and scores are in flight; afterwards it works from empty."""
    tb = BaselineTB(dut, True, True, case_rng(20))
    await tb.reset()
    await tb.reset_while_busy(tb.store_stimulus())
    await ReadOnly()
    assert int(dut.count.value) == 0 and not dut.scores__valid.value
    await FallingEdge(tb.clk)
    tb = BaselineTB(dut, True, True, case_rng(21))
    fresh, queries = random_vectors(tb.rng, tb.p, 6), random_vectors(tb.rng, tb.p, 2)
    await tb.write_keys(fresh)
    await tb.queries.send(tb.pack(queries))
    await tb.wait_groups(len(queries), len(fresh))
    tb.check(fresh, queries, tb.groups())


FAST = {(4, 8), (16, 16), (8, 8)}


@pytest.mark.parametrize(("d", "in_width", "simulator"), harness.cases(
    verilator=[(d, w) for d in (2, 4, 16, 32, 128) for w in (8, 16)],
    icarus=[(4, 16), (8, 8)],
    slow=lambda d, w: (d, w) not in FAST,
))
def test_baseline(d, in_width, simulator, request):
    params = {"d": d, "in_width": in_width, "depth": 20}
    harness.run(
        ConventionalMacro(Params(**params)), test_module=__name__, case=request.node.name,
        simulator=simulator, env={"params": params}, seed=6000 + d + in_width,
    )
