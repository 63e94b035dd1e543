"""Operation counts measured from each block's netlist (Yosys), against the structure's formula."""

import pytest

from axelram.gen.synth import operation_counts
from axelram.golden.params import Params
from axelram.hdl.rotator import Rotator


@pytest.mark.parametrize("d", [8, 128])
def test_rotator_butterflies(d):
    """``d/2 * log2(d)`` butterflies (448 at d=128, as the paper counts), one add and one
    subtract each, and one negation per coordinate for the run-time sign vector."""
    p = Params(d=d)
    counts = operation_counts(Rotator(p))
    butterflies = d // 2 * p.log2_d
    assert counts["adders"] == counts["subtractors"] == butterflies
    assert counts["negations"] == d
    assert counts["multipliers"] == counts["comparators"] == 0
