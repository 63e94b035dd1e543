"""Macro synthesis: the registers kept apart on purpose stay apart.

The macro gives some registers copies with the same next value (``keep``), each placed beside
its own share of the load; Yosys merges identical flip-flops unless each copy is ``keep``
(:func:`axelram.gen.synth.prepare`: one ``busy`` without it was merged into ``busy_store``).
This synthesizes a small macro in the ECP5 flow's first steps and checks that each copy has a
flip-flop of its own.
"""

import json

from amaranth.back import verilog

from axelram.gen.synth import prepare, yosys
from axelram.golden.params import Params
from axelram.hdl.macro import Macro

#: Copies that must stay apart, each group with the same next value.
COPIES = [("busy", "busy_store", "busy_credit"), ("entered", "counting"),
          ("encoder.rotator.feed", "encoder.rotator.feeding"),
          ("query_rotator.feed", "query_rotator.feeding")]


def test_copies_keep_their_flip_flops():
    text = verilog.convert(Macro(Params(d=8, b=2, depth=16), lanes=2), name="top",
                           emit_src=False)
    script = "; ".join(["read_verilog top.v", *prepare("ecp5"), "synth_ecp5 -top top",
                        "write_json top.json"])
    files = yosys(script, {"top.v": text}, outputs=("top.json",))
    module = json.loads(files["top.json"])["modules"]["top"]
    driver = {cell["connections"]["Q"][0]: name for name, cell in module["cells"].items()
              if cell["type"] == "TRELLIS_FF"}
    for group in COPIES:
        flip_flops = {driver.get(module["netnames"][name]["bits"][0]) for name in group}
        assert None not in flip_flops and len(flip_flops) == len(group), (group, flip_flops)
