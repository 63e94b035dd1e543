"""``axelram report``: operation counts from the netlist match each block's structure."""

import json

import pytest

from axelram.gen.cli import main
from axelram.gen.report import measure, report_rows
from axelram.golden.params import Params


@pytest.mark.parametrize("kwargs", [{"d": 8, "b": 3, "depth": 64}, {"d": 16, "b": 2, "depth": 32}])
def test_measured_counts(kwargs):
    p = Params(**kwargs)
    counts = measure(p)
    assert sum(counts["rotator"][k] for k in ("adders", "subtractors")) == p.d * p.log2_d
    assert counts["rotator"]["multipliers"] == 0
    assert counts["norm unit"]["multipliers"] == p.d  # the squarings the paper does not count
    assert counts["quantizer"]["comparators"] == p.d * (p.half - 1)
    assert counts["quantizer"]["multipliers"] == counts["query table"]["multipliers"] == 0
    assert counts["score datapath"]["multipliers"] == 1
    assert counts["index store"]["memory bits"] == p.depth * p.row_width
    rows = {row[0]: row for row in report_rows(p, counts)}
    ours = p.depth  # one true multiplication per key and query
    assert rows["multiplications, 1 query over T keys"][2] == (
        f"{ours:,} ({p.depth * p.d / ours:.1f}x)")


def test_cli_report(tmp_path, capsys):
    out = tmp_path / "counts.json"
    assert main(["report", "--d", "8", "--depth", "64", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| write: comparators | d (2^b - 1) = 56 | 24 |" in text
    assert json.loads(out.read_text())["blocks"]["score datapath"]["multipliers"] == 1


def test_cli_report_bad_parameter(capsys):
    assert main(["report", "--d", "12"]) == 2
    assert capsys.readouterr().err.strip() == (
        "axelram: error: d must be a power of two in 2..1024, got 12")
