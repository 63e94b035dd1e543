"""The arithmetic helpers against Python integers: constant products by CSD shift-and-add, and
adder trees with subtracted values, combinational and pipelined."""

from functools import partial

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.sim import Simulator

from axelram.hdl.arith import const_mul, csd, tree_depth, tree_sum
from axelram.hdl.pipeline import register

SEED = 20261129

# Constants whose CSD form has more negative than positive digits (43 = 64 - 16 - 4 - 1), a
# single digit, runs of ones, and the largest 16-bit values.
CONSTANTS = [1, 2, 3, 7, 43, 45, 171, 999, 0x5555, 0x7FFF, 0xFFFF, 12345]


def _inputs(shape, rng):
    lo, hi = (-(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1) if shape.signed \
        else (0, (1 << shape.width) - 1)
    return [lo, lo + 1, -1 if shape.signed else 1, 0, hi - 1, hi,
            *(int(v) for v in rng.integers(lo, hi + 1, 200))]


def test_csd_has_more_negative_digits_somewhere():
    """The constants above exercise subtraction-heavy trees."""
    assert any(sum(s < 0 for _, s in csd(c)) > sum(s > 0 for _, s in csd(c)) for c in CONSTANTS)


@pytest.mark.parametrize("shape", [signed(12), unsigned(12)], ids=["signed", "unsigned"])
@pytest.mark.parametrize("pipelined", [False, True], ids=["comb", "pipelined"])
def test_const_mul(shape, pipelined):
    """``(x * c) >> drop`` exactly, for every constant, drop 0 and 3, extreme and random x;
    pipelined: ``1 + tree_depth(len(csd(c)))`` cycles later."""
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED)
    m = Module()
    x = Signal(shape)
    stage = partial(register, m, 1) if pipelined else None
    products = [(c, drop, const_mul(x, c, stage, drop)) for c in CONSTANTS for drop in (0, 3)]
    values = _inputs(shape, rng)
    sim = Simulator(m)
    if pipelined:
        sim.add_clock(1e-6)

    async def bench(ctx):
        history = []
        for value in values + [0] * 8:
            ctx.set(x, value)
            history.append(value)
            for c, drop, product in products:
                delay = 1 + tree_depth(len(csd(c))) if pipelined else 0
                if len(history) > delay:
                    expected = history[-1 - delay] * c >> drop
                    assert ctx.get(product) == expected, (c, drop, history[-1 - delay])
            if pipelined:
                await ctx.tick()

    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("negative", [(True,), (True, True), (False, True, True),
                                      (True, True, True, False, True), (True,) * 4])
def test_tree_sum_subtracts(negative):
    """The marked values are subtracted, also when all are (the root is negated), with the
    right shift applied last."""
    print(f"seed {SEED}")
    rng = np.random.default_rng(SEED)
    values = [Signal(signed(8), name=f"v{n}") for n in range(len(negative))]
    total = tree_sum(values, None, 1, negative)

    async def bench(ctx):
        for _ in range(300):
            drawn = [int(v) for v in rng.integers(-128, 128, len(values))]
            for signal, v in zip(values, drawn, strict=True):
                ctx.set(signal, v)
            expected = sum(-v if neg else v for v, neg in zip(drawn, negative, strict=True)) >> 1
            assert ctx.get(total) == expected, drawn

    sim = Simulator(Module())
    sim.add_testbench(bench)
    sim.run()


def test_tree_sum_flags_must_match():
    with pytest.raises(ValueError, match="2 values but 1 negative flags"):
        tree_sum([Signal(4), Signal(4)], negative=[True])
