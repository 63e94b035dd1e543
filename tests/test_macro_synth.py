"""Macro synthesis: the registers kept apart on purpose stay apart.

The macro gives some registers copies with the same next value (``keep``), each placed beside
its own share of the load; Yosys merges identical flip-flops unless each copy is ``keep``
(:func:`axelram.gen.synth.prepare`: one ``busy`` without it was merged into ``busy_store``).
This synthesizes a small macro (and a FIFO with a flag copy) in the ECP5 flow's first steps and
checks that each copy has a flip-flop of its own, and that the ECP5-85K floorplan finds the
rotators' block RAMs by name.
"""

import json
from functools import cache

import pytest

from axelram.gen.fpga import floorplan
from axelram.gen.synth import prepare, to_verilog, yosys
from axelram.golden.params import Params
from axelram.hdl.macro import Macro
from axelram.hdl.pipeline import DistributedFIFO

#: Copies that must stay apart, each group with the same next value.
COPIES = [("busy", "busy_store", "busy_credit"), ("free", "places_read", "places_store"),
          ("entered", "counting"),
          ("encoder.rotator.feed", "encoder.rotator.feeding"),
          ("query_rotator.feed", "query_rotator.feeding"),
          ("encoder.scales.r_rdy", "encoder.scales.r_rdy_copy"),
          ("encoder.rotated.r_rdy", "encoder.rotated.r_rdy_copy")]


def ecp5_netlist(top, ports=None) -> dict:
    """The Yosys JSON netlist (module ``top``) of ``top`` through the ECP5 flow's first steps."""
    script = "; ".join(["read_verilog top.v", *prepare("ecp5"), "synth_ecp5 -top top",
                        "write_json top.json"])
    files = yosys(script, {"top.v": to_verilog(top, ports=ports)}, outputs=("top.json",))
    return json.loads(files["top.json"])


@cache
def netlist(d: int, lanes: int) -> dict:
    """The netlist of a 16-key macro, b=2, in the ECP5 flow."""
    return ecp5_netlist(Macro(Params(d=d, b=2, depth=16), lanes=lanes))


def assert_apart(design: dict, group) -> None:
    """Each signal of ``group`` (names in module ``top``) has a flip-flop of its own."""
    module = design["modules"]["top"]
    driver = {cell["connections"]["Q"][0]: name for name, cell in module["cells"].items()
              if cell["type"] == "TRELLIS_FF"}
    flip_flops = {driver.get(module["netnames"][name]["bits"][0]) for name in group}
    assert None not in flip_flops and len(flip_flops) == len(group), (group, flip_flops)


@pytest.mark.slow
def test_copies_keep_their_flip_flops():
    for group in COPIES:
        assert_apart(netlist(8, 2), group)


def test_rdy_copy_keeps_its_flip_flop():
    """A FIFO's ``r_rdy`` and ``r_rdy_copy`` stay two flip-flops (Yosys merged an unkept
    ``r_rdy`` into its kept copy)."""
    fifo = DistributedFIFO(width=4, depth=4, fall_through=True, rdy_copy=True)
    ports = [fifo.w_data, fifo.w_en, fifo.r_data, fifo.r_en, fifo.r_rdy, fifo.r_rdy_copy]
    assert_apart(ecp5_netlist(fifo, ports), ("r_rdy", "r_rdy_copy"))


@pytest.mark.slow
def test_floorplan_pins_the_rotators():
    """At d=32, one lane, the block RAMs are the two rotators' input FIFOs (36 places, one
    16-bit slice) and output FIFOs (two slices) (the 16-key store is in fabric): the ECP5-85K
    floorplan finds them by name and pins each rotator's three in a row."""
    design = netlist(32, 1)
    cells = design["modules"]["top"]["cells"]
    brams = sorted(name for name, cell in cells.items() if cell["type"] == "DP16KD")
    assert [tuple(name.split(".storage")[0].split(".beats_")) for name in brams] == [
        ("encoder.rotator", "in"), ("encoder.rotator", "out"), ("encoder.rotator", "out"),
        ("query_rotator", "in"), ("query_rotator", "out"), ("query_rotator", "out")]
    assert floorplan(design) == 6
    rows = {cells[name]["attributes"]["BEL"].split("/")[1] for name in brams}
    assert rows == {"Y82", "Y22"}
