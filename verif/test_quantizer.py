# amaranth: UnusedElaboratable=no
"""Quantizer: emitted Verilog against :func:`axelram.golden.fixed.quantize` and
:func:`axelram.golden.fixed.pack_rows`, bit for bit."""

import cocotb
import numpy as np
import pytest

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed
from axelram.hdl.quantizer import Quantizer
from axelram.verif import harness
from axelram.verif.tb import (
    Clocked,
    StreamSink,
    StreamSource,
    case,
    case_params,
    case_rng,
    pack,
    pack_words,
    pauses,
)
from axelram.verif.vectors import VARIANTS, extreme_vectors, random_vectors, spread


def tie_steps(p: Params) -> list[int]:
    """The in-range steps ``s`` such that every norm multiple of ``s`` makes a threshold
    ``theta_m`` a multiple of ``2**compare_shift`` (so ``|y| << compare_shift`` can equal it)."""
    steps = []
    for boundary in p.boundaries_fixed:
        trailing = (int(boundary) & -int(boundary)).bit_length() - 1
        steps.append(1 << max(p.compare_shift - trailing, 0))
    return [step for step in steps if step <= p.norm_max]


def tie_norms(rng, p: Params) -> np.ndarray:
    """A few random multiples of each of the :func:`tie_steps`."""
    return np.array([step * n for step in tie_steps(p)
                     for n in rng.integers(1, p.norm_max // step, size=3, endpoint=True)],
                    dtype=np.int64)


def tie_inputs(rng, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """``(y, norm)``: coordinates one LSB below, on, and one LSB above each threshold
    ``theta_m`` (exactly on ``boundary * norm`` for the :func:`tie_norms`), plus 0, +-1 and
    +-rotated_max, both signs; for the tie norms, norm 0, the largest norm and random ones."""
    norms = np.concatenate([tie_norms(rng, p), [0, p.norm_max],
                            rng.integers(1, p.norm_max, size=3, endpoint=True)])
    ys, row_norms = [], []
    for norm in norms:
        floors = fixed.thresholds(norm, p)
        values = np.concatenate([floors - 1, floors, floors + 1, [0, 1, p.rotated_max]])
        values = np.concatenate([values, -values])
        values = values[np.abs(values) <= p.rotated_max]
        rows = -(-len(values) // p.d)
        y = np.zeros(rows * p.d, dtype=np.int64)
        y[:len(values)] = values
        ys.append(y.reshape(rows, p.d))
        row_norms += [norm] * rows
    return np.concatenate(ys), np.array(row_norms, dtype=np.int64)


class QuantizerTB(Clocked):
    def __init__(self, dut):
        super().__init__(dut)
        self.p = case_params()
        self.lanes = case()["lanes"]
        self.signs = signs_from_seed(case()["sign_seed"], self.p.d)

    def stimulus(self, rng, count):
        """``(y, norm, field)``: rotated real keys, arbitrary in-range inputs, and ties."""
        p = self.p
        keys = np.concatenate([extreme_vectors(p, self.signs), random_vectors(rng, p, count),
                               spread(rng, random_vectors(rng, p, count), p.in_width)])
        key_norms = fixed.key_norm(keys, p)
        y = spread(rng, rng.integers(-p.rotated_max, p.rotated_max, size=(count, p.d),
                                     endpoint=True), p.rotated_width)
        norms = spread(rng, rng.integers(0, p.norm_max, size=count, endpoint=True), p.norm_width)
        tie_y, tie_norm = tie_inputs(rng, p)
        arbitrary = np.concatenate([norms, tie_norm])
        return (
            np.concatenate([fixed.rotate(keys, self.signs), y, tie_y]),
            np.concatenate([key_norms, arbitrary]),
            np.concatenate([fixed.encode_norm(key_norms, p),
                            rng.integers(0, 1 << p.norm_field_width, size=len(arbitrary))]),
        )

    def payloads(self, inputs):
        """The input beats of every key: ``lanes`` coordinates each, with the key's thresholds
        (the golden :func:`fixed.thresholds` of its norm) and field."""
        p = self.p
        offset = self.lanes * p.rotated_width
        field_offset = offset + (p.half - 1) * p.compare_width
        for y, norm, field in zip(*inputs, strict=True):
            scale = (pack(fixed.thresholds(norm, p), p.compare_width) << offset
                     | int(field) << field_offset)
            for beat in y.reshape(-1, self.lanes):
                yield pack(beat, p.rotated_width) | scale

    async def check(self, inputs, gaps_rng, bp_rng, gaps, backpressure):
        p = self.p
        source = StreamSource(self.dut, "i", pauses(gaps_rng, gaps))
        sink = StreamSink(self.dut, "o", pauses(bp_rng, backpressure))
        count = len(inputs[0])
        await source.send(self.payloads(inputs))
        await sink.wait_for(count, timeout_cycles=10 * count * p.d // self.lanes + 100)
        await self.cycles(Quantizer(p).latency + 5)
        sink.stop()
        words = pack_words(sink.received, p)
        y, norm, field = inputs
        np.testing.assert_array_equal(words, fixed.pack_rows(fixed.quantize(y, norm, p), field, p))


@cocotb.test()
@cocotb.parametrize(gaps=[False, True], backpressure=[False, True])
async def quantizer_stream(dut, gaps, backpressure):
    """Real, arbitrary and tie inputs, with idle gaps and backpressure on or off."""
    tb = QuantizerTB(dut)
    await tb.reset()
    rng = case_rng(2 * gaps + backpressure)
    y, norm, field = tb.stimulus(rng, case()["vectors"])
    thresholds = tb.p.boundaries_fixed * norm[:, None]
    exact = np.abs(y)[:, :, None] << tb.p.compare_shift == thresholds[:, None, :]
    # Where the range holds a norm with an exact tie, the stimulus must reach one.
    assert exact[norm > 0].any() or not tie_steps(tb.p)
    await tb.check((y, norm, field), rng, rng, gaps, backpressure)


@cocotb.test()
async def quantizer_reset_mid_traffic(dut):
    """Reset while rows are in flight; afterwards only new rows come out, all correct."""
    tb = QuantizerTB(dut)
    await tb.reset()
    rng = case_rng(7)
    await tb.reset_in_traffic(tb.payloads(tb.stimulus(rng, 10)),
                              int(rng.integers(1, 10 * tb.p.d // tb.lanes)), rng)
    await tb.check(tb.stimulus(rng, 20), rng, rng, True, True)


DIMS = (2, 4, 8, 16, 32, 64, 128, 256)
FAST = {(16, 3, 16, "default", 16), (128, 3, 16, "default", 1), (2, 1, 8, "exact", 2),
        (8, 2, 8, "beta", 8), (16, 3, 16, "default", 1), (64, 2, 16, "default", 16)}


@pytest.mark.parametrize(("d", "b", "in_width", "variant", "lanes", "simulator"), harness.cases(
    verilator=[(d, b, 16, "default", d) for d in DIMS for b in (1, 2, 3, 4)]
    + [(d, b, 8, "default", d) for d in DIMS for b in (1, 3)]
    + [(d, 3, w, v, d) for d in (16, 128) for w in (8, 16) for v in ("frac0", "exact", "m6")]
    + [(d, b, 16, "beta", d) for d in (16, 32, 64, 128) for b in (2, 3, 4)]
    + [(d, b, 16, "default", lanes) for d in (4, 16, 64, 128) for b in (1, 2, 3)
       for lanes in harness.lanes_of(d) if lanes < d],
    icarus=[(2, 1, 8, "exact", 2), (4, 4, 8, "m6", 4), (8, 2, 8, "beta", 8),
            (16, 3, 16, "frac0", 16), (8, 3, 16, "default", 2)],
    slow=lambda *c: c not in FAST,
))
def test_quantizer(d, b, in_width, variant, lanes, simulator, request):
    overrides = VARIANTS[variant]
    p = Params(d=d, b=b, in_width=in_width, **overrides)
    harness.run(
        Quantizer(p, lanes), test_module=__name__, case=request.node.name,
        simulator=simulator,
        env={"params": {"d": d, "b": b, "in_width": in_width, **overrides}, "lanes": lanes,
             "sign_seed": 1, "vectors": 100},
        seed=3000 + 10 * d + b + in_width + lanes,
    )


def test_quantizer_properties():
    quantizer = Quantizer(Params(d=128, b=3), 4)
    assert (quantizer.lanes, quantizer.beats, quantizer.latency) == (4, 32, 3)
    assert Quantizer(Params(d=8, b=1)).lanes == 8
