"""Cocotb module behind ``bench/simulators.py``: vectors per second through the rotator.

Streams the case's ``vectors`` seeded random vectors back to back (no idle gap, no
backpressure), checks them bit-exactly against the golden model, and writes the wall-clock
figures to the case's ``output`` JSON.
"""

import json
import time

import cocotb
import numpy as np

from axelram.golden import fixed
from axelram.golden.signs import sign_bits, signs_from_seed
from axelram.verif.tb import (
    Clocked,
    StreamSink,
    StreamSource,
    case,
    case_params,
    case_rng,
    pack,
    unpack,
)
from axelram.verif.vectors import random_vectors


@cocotb.test()
async def rotator_throughput(dut):
    p = case_params()
    signs = signs_from_seed(0, p.d)
    vectors = random_vectors(case_rng(), p, case()["vectors"])
    tb = Clocked(dut)
    dut.signs.value = sign_bits(signs)
    await tb.reset()
    source, sink = StreamSource(dut, "i"), StreamSink(dut, "o")
    start = time.perf_counter()
    await source.send(pack(v, p.in_width) for v in vectors)
    await sink.wait_for(len(vectors), 10 * len(vectors) + 100)
    seconds = time.perf_counter() - start
    got = np.array([unpack(v, p.rotated_width, p.d, signed=True) for v in sink.received])
    np.testing.assert_array_equal(got, fixed.rotate(vectors, signs))
    with open(case()["output"], "w") as f:
        json.dump({"vectors": len(vectors), "seconds": seconds}, f)
