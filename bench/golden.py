"""Throughput of the golden model (not a test): keys written and key-scores per second.

    .venv/bin/python bench/golden.py [--d 128] [--b 3] [--keys 262144] [--queries 64]

Pins BLAS to one thread, times the whole write path (rotate, norm, quantize, pack) on random
keys and the read path (query rotation, table, lookup, sum, norm scaling) of every query against
every stored key, best of ``--repeat`` runs, and prints one line each. The targets for d=128,
b=3 are 1 million keys/s and 10 million key-scores/s on one core, in wall-clock time; each line
also gives the rate per second of this process's CPU time, which leaves out the time other jobs
on a shared machine take the core away (not what they do to its caches).
"""

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402  (after the thread pinning)

from axelram.golden import fixed  # noqa: E402
from axelram.golden.params import Params  # noqa: E402
from axelram.golden.signs import signs_from_seed  # noqa: E402


def best_of(repeat, fn):
    """``(wall seconds, CPU seconds, result)``: the best of ``repeat`` runs of each clock."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--b", type=int, default=3)
    parser.add_argument("--keys", type=int, default=1 << 18)
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    p = Params(d=args.d, b=args.b)
    signs = signs_from_seed(0, p.d)
    rng = np.random.default_rng(args.seed)
    print(f"d={p.d} b={p.b} in_width={p.in_width}, seed {args.seed}, best of {args.repeat}")
    keys = rng.integers(p.in_min, p.in_max, size=(args.keys, p.d), endpoint=True)
    queries = rng.integers(p.in_min, p.in_max, size=(args.queries, p.d), endpoint=True)

    seconds, cpu, rows = best_of(args.repeat, lambda: fixed.write_rows(keys, signs, p))
    idx, field = fixed.unpack_rows(rows, p)
    print(f"write path: {args.keys / seconds / 1e6:.3f} M keys/s, {args.keys / cpu / 1e6:.3f} "
          f"per CPU second ({args.keys} keys, {rows.nbytes / args.keys:.0f} bytes per packed row)")

    stored = min(args.keys, p.depth)
    seconds, cpu, _ = best_of(args.repeat, lambda: fixed.scores(
        queries, idx[:stored], field[:stored], signs, p))
    print(f"read path:  {args.queries * stored / seconds / 1e6:.3f} M key-scores/s, "
          f"{args.queries * stored / cpu / 1e6:.3f} per CPU second "
          f"({args.queries} queries x {stored} stored keys)")


if __name__ == "__main__":
    main()
