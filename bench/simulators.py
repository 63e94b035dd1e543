"""Vectors per second simulated by Verilator and by Icarus on the same rotator and stimulus.

    .venv/bin/python bench/simulators.py [--d 128] [--vectors 400]

Both simulators run the cocotb module ``axelram.verif.throughput`` (seeded stimulus, checked
bit-exactly against the golden model); the figure excludes the build.
"""

import argparse
import json
import tempfile
from pathlib import Path

from axelram.golden.params import Params
from axelram.hdl.rotator import Rotator
from axelram.verif import harness


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--in-width", type=int, default=16)
    parser.add_argument("--vectors", type=int, default=400)
    args = parser.parse_args()
    p = Params(d=args.d, in_width=args.in_width)
    rates = {}
    for simulator in ("verilator", "icarus"):
        with tempfile.TemporaryDirectory() as scratch:
            output = Path(scratch) / "result.json"
            harness.run(
                Rotator(p), test_module="throughput", simulator=simulator, seed=1,
                case=f"bench-rotator-{p.d}-{p.in_width}-{simulator}", quiet=True,
                env={"params": {"d": p.d, "in_width": p.in_width}, "vectors": args.vectors,
                     "output": str(output)},
            )
            result = json.loads(output.read_text())
        rates[simulator] = result["vectors"] / result["seconds"]
        print(f"{simulator:>9}: {rates[simulator]:10.1f} vectors/s "
              f"({result['vectors']} vectors in {result['seconds']:.2f} s, d={p.d})")
    print(f"Verilator / Icarus: {rates['verilator'] / rates['icarus']:.1f}x")


if __name__ == "__main__":
    main()
