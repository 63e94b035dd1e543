"""The deep register-to-register paths of a synthesized ECP5 netlist, before placement (not a
test).

    .venv/bin/python bench/logic_depth.py OUT/DxB/top.json [--top 20] [--over 3.4]
                                          [--hop 0.7] [--match NAME]

nextpnr reports one critical path per run, and which path it is changes with the placement. This
reads the netlist that ``axelram synth`` or ``axelram sweep`` gave nextpnr (``top.json`` in its
working directory, or :func:`axelram.gen.fpga.synthesize`'s ``workdir``) and estimates every
path's delay with a fixed model: the cells' delays of nextpnr's ECP5 speed grade 6 (a
flip-flop's clock to output 0.52 ns, a LUT4 0.24, a PFUMX or L6MUX21 0.26, a carry cell's input
to its sum 0.42, to its carry out 0.40, a carry in to the next carry out 0.05, to a sum 0.30, a
LUT RAM read 0.40, a flip-flop's set/reset setup 0.42) and ``--hop`` ns of routing per net
between cells (none on the carry chain and into a PFUMX's or L6MUX21's LUT inputs, which are
inside a slice). Each path ends at a flip-flop's or a RAM's input pins. It prints the endpoints
whose estimate exceeds ``--over`` ns, slowest first, grouped by name (digits replaced by ``#``),
with the slowest path of each group cell by cell: the list of paths that one placement or
another may make critical, with their logic levels.
"""

import argparse
import json
import re
import sys
from collections import defaultdict

CLOCK_TO_Q = 0.52
LUT = 0.24
MUX = 0.26
RAM_READ = 0.40
LSR_SETUP = 0.42
# Carry cell: (input, output) pin classes to delay.
CARRY = {("in", "S"): 0.42, ("in", "COUT"): 0.40, ("CIN", "COUT"): 0.05, ("CIN", "S"): 0.30}
# Inputs that arrive inside a slice, without general routing.
_LOCAL = {("CCU2C", "CIN"), ("PFUMX", "ALUT"), ("PFUMX", "BLUT"), ("L6MUX21", "D0"),
          ("L6MUX21", "D1")}
# Outputs that start a path (registers): flip-flops and block RAM data.
_SEQUENTIAL = {"TRELLIS_FF", "DP16KD", "MULT18X18D", "ALU54B"}


def _outputs_to_inputs(cell_type: str, out: str, inputs: list[str]):
    """``(input, delay)`` for each input through which ``out`` depends combinationally."""
    if cell_type == "LUT4":
        return [(pin, LUT) for pin in inputs]
    if cell_type in ("PFUMX", "L6MUX21"):
        return [(pin, MUX) for pin in inputs]
    if cell_type == "CCU2C":
        kind = "COUT" if out == "COUT" else "S"
        bit = out[-1] if out != "COUT" else "1"
        result = []
        for pin in inputs:
            if pin == "CIN":
                result.append((pin, CARRY[("CIN", kind)]))
            elif kind == "COUT" or pin[-1] == bit or (out == "S1" and pin[-1] == "0"):
                result.append((pin, CARRY[("in", kind)]))
        return result
    if cell_type == "TRELLIS_DPR16X4" and out.startswith("DO"):
        return [(pin, RAM_READ) for pin in inputs if pin.startswith("RAD")]
    return []


def analyse(netlist: dict, hop: float):
    """``{endpoint: (estimate, path)}``, ``path`` a list of ``(cell, pin, arrival)`` from the
    source register to the endpoint."""
    modules = netlist["modules"]
    top = next(name for name, mod in modules.items() if mod.get("attributes", {}).get("top"))
    cells = modules[top]["cells"]
    driver = {}         # net bit -> (cell, output pin)
    pins = {}           # cell -> {pin: [bits]}
    for name, cell in cells.items():
        directions = cell.get("port_directions", {})
        pins[name] = cell["connections"]
        for pin, bits in cell["connections"].items():
            if directions.get(pin) == "output" or (cell["type"] == "TRELLIS_FF" and pin == "Q"):
                for bit in bits:
                    if isinstance(bit, int):
                        driver[bit] = (name, pin)

    arrival = {}

    def output_arrival(name: str, out: str):
        key = (name, out)
        if key in arrival:
            return arrival[key]
        arrival[key] = (0.0, None)      # a combinational loop ends here
        cell = cells[name]
        if cell["type"] in _SEQUENTIAL:
            result = (CLOCK_TO_Q, None)
        else:
            inputs = [pin for pin, bits in pins[name].items()
                      if cell.get("port_directions", {}).get(pin) == "input"]
            result = (0.0, None)
            for pin, delay in _outputs_to_inputs(cell["type"], out, inputs):
                at = pin_arrival(name, pin)
                if at is not None and at[0] + delay > result[0]:
                    result = (at[0] + delay, pin)
        arrival[key] = result
        return result

    def pin_arrival(name: str, pin: str):
        """Arrival at an input pin (its slowest bit) and the driving (cell, output)."""
        best = None
        for bit in pins[name][pin]:
            if not isinstance(bit, int) or bit not in driver:
                continue
            source = driver[bit]
            at = output_arrival(*source)[0]
            if (cells[name]["type"], pin) not in _LOCAL:
                at += hop
            if best is None or at > best[0]:
                best = (at, source)
        return best

    def trace(name: str, pin: str) -> list:
        path = []
        while True:
            at = pin_arrival(name, pin)
            if at is None:
                break
            path.append((name, pin, at[0]))
            source, out = at[1]
            through = output_arrival(source, out)[1]
            if through is None:
                path.append((source, out, output_arrival(source, out)[0]))
                break
            name, pin = source, through
        return path[::-1]

    sys.setrecursionlimit(100000)
    endpoints = {}
    for name, cell in cells.items():
        if cell["type"] not in ("TRELLIS_FF", "DP16KD", "TRELLIS_DPR16X4", "MULT18X18D"):
            continue
        for pin in pins[name]:
            if cell.get("port_directions", {}).get(pin) != "input" or pin.startswith("CLK") \
                    or pin in ("WCK",) or pin.startswith("RAD"):
                continue
            at = pin_arrival(name, pin)
            if at is not None:
                setup = LSR_SETUP if pin == "LSR" else 0.0
                endpoints[f"{name}.{pin}"] = (at[0] + setup, (name, pin))
    return endpoints, trace


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("netlist", help="top.json: the netlist nextpnr places")
    parser.add_argument("--over", type=float, default=3.4, help="estimate to list, ns")
    parser.add_argument("--hop", type=float, default=0.7, help="routing per net, ns")
    parser.add_argument("--top", type=int, default=20, help="groups to list")
    parser.add_argument("--match", default="", help="only endpoints whose name contains this")
    args = parser.parse_args(argv)
    with open(args.netlist) as file:
        endpoints, trace = analyse(json.load(file), args.hop)
    groups = defaultdict(list)
    for endpoint, (at, where) in endpoints.items():
        if at > args.over and args.match in endpoint:
            groups[re.sub(r"\d+", "#", endpoint)].append((at, where))
    ranked = sorted(groups.items(), key=lambda item: -max(at for at, _ in item[1]))
    print(f"{sum(len(v) for v in groups.values())} endpoints over {args.over} ns "
          f"in {len(groups)} groups")
    for group, members in ranked[:args.top]:
        at, where = max(members)
        print(f"\n{at:5.2f} ns  {len(members):4d}  {group}")
        for cell, pin, arrived in trace(*where):
            print(f"        {arrived:5.2f}  {cell}.{pin}")


if __name__ == "__main__":
    main()
