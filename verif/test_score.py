"""Score datapath: emitted Verilog against :func:`axelram.golden.fixed.score`, bit for bit."""

import cocotb
import numpy as np
import pytest

from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed
from axelram.hdl.score import ScoreDatapath
from axelram.hdl.table import fill_channels
from axelram.verif import harness
from axelram.verif.tb import (
    Clocked,
    StreamSink,
    StreamSource,
    case,
    case_params,
    case_rng,
    pack_fill,
    pauses,
    stream_test,
    unpack,
)
from axelram.verif.vectors import extreme_vectors, random_vectors


def legal_fields(rng, p: Params, n: int) -> np.ndarray:
    """``n`` random norm fields whose decoded value is at most ``stored_norm_max``."""
    if not p.norm_rounded:
        return rng.integers(0, p.norm_max, size=n, endpoint=True)
    e = rng.integers(0, p.exponent_max, size=n, endpoint=True)
    top = np.minimum((1 << p.norm_mantissa) - 1, p.stored_norm_max >> e)
    return rng.integers(0, top, endpoint=True) | (e << p.norm_mantissa)


class ScoreTB(Clocked):
    def __init__(self, dut):
        super().__init__(dut)
        self.p = case_params()
        self.lanes = case()["lanes"]
        self.signs = signs_from_seed(case()["sign_seed"], self.p.d)

    def tables(self, rng, count):
        """Full golden tables of extreme and random queries, and of arbitrary extreme ``z``
        (every coordinate at ``+rotated_max``, and at alternating ``+-rotated_max``): the
        largest entries of every sign."""
        p = self.p
        queries = np.concatenate([extreme_vectors(p, self.signs), random_vectors(rng, p, count)])
        top = np.full(p.d, p.rotated_max)
        z = np.concatenate([fixed.rotate(queries, self.signs),
                            np.stack([top, np.where(np.arange(p.d) % 2, top, -top)])])
        return fixed.query_table(z, p)

    def rows(self, rng, count):
        """``(idx, field)`` of stored keys (golden write path of extreme and random keys), of
        random indices with random legal fields, and of the extremes: every index at the
        largest positive or negative level, alternating, with the largest stored norm."""
        p = self.p
        keys = np.concatenate([extreme_vectors(p, self.signs), random_vectors(rng, p, count)])
        idx, field = fixed.write_keys(keys, self.signs, p)
        ends = np.stack([np.full(p.d, p.levels - 1), np.zeros(p.d, dtype=np.int64),
                         np.where(np.arange(p.d) % 2, p.levels - 1, 0)])
        largest = fixed.encode_norm(np.full(len(ends), p.norm_max), p)
        return (np.concatenate([idx, rng.integers(0, p.levels, size=(count, p.d)), ends]),
                np.concatenate([field, legal_fields(rng, p, count), largest]))

    def stimulus(self, rng, count):
        """Queries ``[(full table, idx, field), ...]``, each with its own rows."""
        return [(table, *self.rows(rng, count)) for table in self.tables(rng, 2)]

    def row_payloads(self, idx, field, bank):
        words = fixed.pack_rows(idx, field, self.p)
        return [sum(int(w) << (64 * i) for i, w in enumerate(row)) | bank << self.p.row_width
                for row in words]

    def writes(self, table, bank):
        """The writes of the positive half of a full golden ``table`` into ``bank``, per
        channel: on channel ``c``, every entry of every beat ``k`` (``lanes`` coordinates) with
        ``k mod channels == c``."""
        p, lanes, channels = self.p, self.lanes, fill_channels(self.p, self.lanes)
        return [[pack_fill(p, lanes, table[k * lanes:(k + 1) * lanes, p.half + e], e, k, bank)
                 for k in range(c, p.d // lanes, channels) for e in range(p.half)]
                for c in range(channels)]

    async def fill(self, writes, rng, gaps: bool):
        """Send each channel's writes on its own source, all at once, each with its own idle
        gaps if ``gaps``."""
        senders = [cocotb.start_soon(StreamSource(self.dut, f"fill__{c}",
                                                  pauses(rng, gaps)).send(channel))
                   for c, channel in enumerate(writes)]
        for sender in senders:
            await sender

    async def check(self, queries, gaps_rng, bp_rng, gaps, backpressure):
        """Write the first query's table into bank 0; then send each query's rows, with its
        bank, while the next query's table is written into the other bank, starting as soon
        as the rows before are sent (a row reads no write after its own cycle), and send the
        next rows as soon as it is written (the first row two cycles after its last write: a
        row reads the writes up to ``write_lag``, at most 2, cycles before it). The output is
        always ready: ``backpressure`` must be off."""
        p = self.p
        assert not backpressure, "the score datapath's output has no ready"
        rows = StreamSource(self.dut, "i", pauses(gaps_rng, gaps))
        sink = StreamSink(self.dut, "o")
        await self.fill(self.writes(queries[0][0], 0), gaps_rng, gaps)
        expected = []
        for n, (table, idx, field) in enumerate(queries):
            writing = None
            if n + 1 < len(queries):
                writing = cocotb.start_soon(
                    self.fill(self.writes(queries[n + 1][0], ~n & 1), gaps_rng, gaps))
            await rows.send(self.row_payloads(idx, field, n & 1))
            if writing is not None:
                await writing
            expected.extend(fixed.score(table, idx, field, p))
        await sink.wait_for(len(expected), timeout_cycles=10 * len(expected) + 100)
        await self.cycles(5)
        sink.stop()
        got = [unpack(v, p.score_width, 1, signed=True)[0] for v in sink.received]
        np.testing.assert_array_equal(got, expected)


score_stream = stream_test(ScoreTB, "rows", "score_stream", backpressure=(False,))


@cocotb.test()
async def score_reset_mid_traffic(dut):
    """Reset while rows are in flight; afterwards only new scores come out, all correct."""
    tb = ScoreTB(dut)
    await tb.reset()
    rng = case_rng(7)
    queries = tb.stimulus(rng, 10)
    table, idx, field = queries[-1]
    await tb.fill(tb.writes(table, 1), rng, False)
    await tb.reset_in_traffic(tb.row_payloads(idx, field, 1),
                              int(rng.integers(1, tb.p.log2_d + 20)), rng, backpressure=False)
    await tb.check(queries[:3], rng, rng, True, False)


# (d, b, in_width, norm_mantissa, table_width, codebook, score_multiplier, lanes): every
# d x b x in_width with the default Params, the table written one coordinate per cycle (the
# generator's default) and all at once; then the exact norm, small and large tables, a short
# mantissa, the beta codebook, and the DSP multiplier, written in quarters.
DEFAULT = (Params.norm_mantissa, Params.table_width, Params.codebook, Params.score_multiplier)
SWEEP = [(d, b, w, *DEFAULT, lanes) for d in (2, 4, 8, 16, 32, 64, 128, 256)
         for b in (1, 2, 3, 4) for w in (8, 16) for lanes in sorted({1, d})]
VARIANTS = [(*v, v[0] // 4) for v in [
    (16, 3, 16, 0, 18, "gaussian", "fabric"), (128, 3, 16, 0, 18, "gaussian", "fabric"),
    (256, 4, 16, 0, 18, "gaussian", "fabric"), (16, 2, 8, 4, 18, "gaussian", "fabric"),
    (32, 4, 16, 12, 10, "gaussian", "fabric"), (128, 3, 16, 12, 10, "gaussian", "fabric"),
    (64, 2, 16, 12, 24, "gaussian", "fabric"), (256, 3, 16, 12, 24, "gaussian", "fabric"),
    (32, 3, 16, 12, 18, "beta", "fabric"), (128, 4, 8, 0, 18, "beta", "fabric"),
    (16, 3, 16, 12, 18, "gaussian", "dsp"), (128, 3, 16, 12, 18, "gaussian", "dsp"),
    (16, 2, 8, 0, 8, "gaussian", "dsp"), (64, 4, 16, 0, 18, "gaussian", "dsp")]]
FAST = [(2, 1, 8, *DEFAULT, 1), (16, 3, 16, *DEFAULT, 1), (16, 3, 16, *DEFAULT, 16),
        (128, 3, 16, *DEFAULT, 1),
        (2, 1, 16, *DEFAULT, 2),  # d=2, in_width=8 stores the norm exactly, in_width=16 rounds it
        (4, 4, 8, *DEFAULT, 1),  # four table channels, each beat held two cycles
        (16, 3, 16, 12, 18, "gaussian", "dsp", 4), (16, 2, 8, 0, 8, "gaussian", "dsp", 4)]


@pytest.mark.parametrize(
    ("d", "b", "in_width", "norm_mantissa", "table_width", "codebook", "score_multiplier",
     "lanes", "simulator"),
    harness.cases(
        verilator=SWEEP + VARIANTS,
        icarus=[(d, b, w, *DEFAULT, lanes) for d in (2, 16) for b in (1, 3) for w in (8, 16)
                for lanes in (1, d)]
        + [(8, 2, 16, 0, 10, "beta", "fabric", 2), (8, 2, 16, 12, 18, "gaussian", "dsp", 8)],
        slow=lambda *case: case not in FAST,
    ))
def test_score(d, b, in_width, norm_mantissa, table_width, codebook, score_multiplier, lanes,
               simulator, request):
    params = {"d": d, "b": b, "in_width": in_width, "norm_mantissa": norm_mantissa,
              "table_width": table_width, "codebook": codebook,
              "score_multiplier": score_multiplier}
    harness.run(
        ScoreDatapath(Params(**params), lanes), test_module=__name__, case=request.node.name,
        simulator=simulator, env={"params": params, "lanes": lanes, "sign_seed": 1, "rows": 16},
        seed=3000 + 10 * d + b + in_width + norm_mantissa + table_width + lanes,
    )
