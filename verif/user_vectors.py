"""Cocotb test behind ``axelram sim``: streams a user's integer vectors through the macro.

The case (``AXELRAM_CASE``) names an ``.npz`` with ``keys`` ``(heads, N, d)`` and ``queries``
``(heads, Q, d)`` in the input format, and an output ``.npz`` that receives the RTL ``scores``
``(heads, Q, N)``, the simulated ``cycles`` and the wall-clock ``seconds`` of the simulation.
Keys beyond the store's depth are scored in blocks of ``depth``: clear, write a block, run
every query against it.
"""

import sys
import time

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly
from cocotb.utils import get_sim_time

from axelram.verif.tb import (
    PERIOD_NS,
    Clocked,
    StreamSink,
    StreamSource,
    case,
    case_params,
    pack,
)


@cocotb.test()
async def stream_user_vectors(dut):
    p, lanes = case_params(), case()["lanes"]
    inputs = np.load(case()["inputs"])
    keys, queries = inputs["keys"], inputs["queries"]
    heads, n, q = keys.shape[0], keys.shape[1], queries.shape[1]
    tb = Clocked(dut)
    dut.clear.value = 0
    await tb.reset()
    source_keys, source_queries = StreamSource(dut, "keys"), StreamSource(dut, "queries")
    sink = StreamSink(dut, "scores")
    mask = (1 << p.score_width) - 1
    scores = np.empty((heads, q, n), dtype=np.int64)
    blocks = [(h, start) for h in range(heads) for start in range(0, n, p.depth)]
    started, cycles = time.perf_counter(), get_sim_time("ns")
    # Progress: rewritten in place per query on a terminal, a line per block in a log.
    tty = sys.stderr.isatty()
    for done, (h, start) in enumerate(blocks):
        block = keys[h, start:start + p.depth]
        await FallingEdge(tb.clk)
        dut.clear.value = 1
        await FallingEdge(tb.clk)
        dut.clear.value = 0
        await source_keys.send(pack(beat, p.in_width) for beat in block.reshape(-1, lanes))
        while True:
            await ReadOnly()
            if int(dut.count.value) == len(block):
                break
            await FallingEdge(tb.clk)
        sink.received.clear()
        sending = cocotb.start_soon(source_queries.send(
            pack(beat, p.in_width) for beat in queries[h].reshape(-1, lanes)))
        expected = q * len(block)
        for _ in range(4 * q + 10):  # generous: a query takes len(block) + latency cycles
            await sink.wait_for(min(expected, len(sink.received) + len(block)),
                                timeout_cycles=4 * len(block) + 1000)
            if tty:
                print(f"\raxelram sim: block {done + 1}/{len(blocks)}, query "
                      f"{len(sink.received) // len(block)}/{q}", end="", file=sys.stderr,
                      flush=True)
            if len(sink.received) >= expected:
                break
        await sending
        raw = np.array([v & mask for v in sink.received], dtype=np.int64)
        raw -= (raw >> (p.score_width - 1)) << p.score_width
        scores[h, :, start:start + len(block)] = raw.reshape(q, len(block))
        if not tty:
            print(f"axelram sim: block {done + 1}/{len(blocks)} scored", file=sys.stderr)
    if tty:
        print(file=sys.stderr)
    np.savez(case()["output"], scores=scores, seconds=time.perf_counter() - started,
             cycles=(get_sim_time("ns") - cycles) / PERIOD_NS)
