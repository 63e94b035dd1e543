"""Write path against lanes on an FPGA (not a test): Yosys + nextpnr, one run per lanes value.

    .venv/bin/python bench/lanes.py [--d 128] [--b 3] [--lanes 1 2 32 128] [--target ecp5-85k]
                                    [--seed 1 2 3] [--macro] [--json build/lanes.json]

For each ``L`` it places and routes the key encoder (sign flip, FWHT, norm, quantizer, row
assembly: :class:`axelram.hdl.encoder.KeyEncoder`) out of context, as the macro uses it (the sign
vector a ROM, every row taken as it comes), and prints LUT4s, flip-flops,
carry cells, block RAMs, DSPs, Fmax and the keys written per second at that Fmax
(``Fmax / (d / L)``). ``--macro`` adds the whole macro (``T = --depth``) at the default lanes,
what ``make gen`` produces. ``--seed`` repeats every run with each nextpnr placement seed given.
A run that does not fit or does not route is reported as such. Each
place and route takes minutes; the results are appended to ``--json`` as they come.
"""

import argparse
import json
import time
from pathlib import Path

from amaranth.hdl import Const, Module, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from axelram.gen.cli import DEFAULT_LANES
from axelram.gen.fpga import TARGETS, NextpnrError, synthesize
from axelram.golden.params import Params
from axelram.golden.signs import sign_bits, signs_from_seed
from axelram.hdl.encoder import KeyEncoder
from axelram.hdl.macro import Macro


class WritePath(wiring.Component):
    """The key encoder as the macro instantiates it: ``signs`` a constant, ``o.ready`` high."""

    def __init__(self, params: Params, lanes: int):
        self._encoder = KeyEncoder(params, lanes)
        self._signs = signs_from_seed(0, params.d)
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(params.in_width), lanes))),
            "row_valid": Out(1),
            "row": Out(params.row_width),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.encoder = encoder = self._encoder
        wiring.connect(m, wiring.flipped(self.i), encoder.i)
        m.d.comb += [
            encoder.signs.eq(Const(sign_bits(self._signs), len(self._signs))),
            encoder.o.ready.eq(1),
            self.row_valid.eq(encoder.o.valid),
            self.row.eq(encoder.o.payload),
        ]
        return m


def run(name, component, target, clock, seed, beats, results, path):
    start = time.perf_counter()
    try:
        result = synthesize(component, target, clock_mhz=clock, seed=seed)
    except NextpnrError as error:
        result = {"error": str(error).splitlines()[0]}
    result = {"design": name, "nextpnr_seed": seed, "seconds": round(time.perf_counter() - start),
              **result}
    fmax = result.get("fmax_mhz")
    result["keys_per_second"] = None if fmax is None else fmax * 1e6 / beats
    results.append(result)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=1) + "\n")
    if "error" in result:
        print(f"{name}: {result['error']} ({result['seconds']} s)", flush=True)
        return
    print(f"{name}: {result['luts']} LUT4, {result['ffs']} FF, {result['carries']} CCU2C, "
          f"{result['brams']} BRAM, {result['dsps']} DSP, "
          + ("no Fmax" if fmax is None else
             f"Fmax {fmax:.1f} MHz, {result['keys_per_second'] / 1e6:.2f} M keys/s")
          + f", fits {result['fits']} ({result['seconds']} s)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=128)
    parser.add_argument("--b", type=int, default=3)
    parser.add_argument("--depth", type=int, default=4096)
    parser.add_argument("--lanes", type=int, nargs="*", default=[1, 2, 32, 128])
    parser.add_argument("--target", default="ecp5-85k", choices=list(TARGETS))
    parser.add_argument("--clock", type=float, default=250.0, help="MHz asked of nextpnr")
    parser.add_argument("--seed", type=int, nargs="*", default=[None],
                        help="nextpnr placement seeds, one run per seed and design (default: "
                        "nextpnr's own placement)")
    parser.add_argument("--macro", action="store_true", help="also the whole macro")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()

    p = Params(d=args.d, b=args.b, depth=args.depth)
    print(f"d={p.d} b={p.b} in_width={p.in_width} on {args.target}, {args.clock:g} MHz asked",
          flush=True)
    results = []
    for seed in args.seed:
        placed = "" if seed is None else f", seed {seed}"
        for lanes in args.lanes:
            run(f"write path L={lanes}{placed}", WritePath(p, lanes), args.target, args.clock,
                seed, p.d // lanes, results, args.json)
        if args.macro:
            macro = Macro(p, lanes=DEFAULT_LANES, signs=signs_from_seed(0, p.d))
            run(f"macro T={p.depth} L={DEFAULT_LANES}{placed}", macro, args.target, args.clock,
                seed, p.d // DEFAULT_LANES, results, args.json)


if __name__ == "__main__":
    main()
