"""``axelram report``: operation counts from the netlist match each block's structure."""

import json

import pytest

from axelram.gen.cli import main
from axelram.gen.report import measure, report_rows
from axelram.gen.synth import netlist_cells, operation_counts
from axelram.golden.params import Params
from axelram.hdl.score import ScoreDatapath
from axelram.hdl.stream_rotator import StreamRotator


@pytest.mark.parametrize(("kwargs", "lanes"), [
    ({"d": 8, "b": 3, "depth": 64}, 8), ({"d": 16, "b": 2, "depth": 32}, 16),
    ({"d": 16, "b": 3, "depth": 32}, 1), ({"d": 16, "b": 3, "depth": 32}, 4),
])
def test_measured_counts(kwargs, lanes):
    p = Params(**kwargs)
    counts = measure(p, lanes)
    log2_lanes = lanes.bit_length() - 1
    stages = p.log2_d - log2_lanes  # SDF stages
    butterflies = lanes // 2 * log2_lanes + lanes * stages
    # The butterflies' adders and subtractors, and when folded the sign flip's L incrementers
    # (a negation's +1, a stage after the ones' complement), are the rotator's only ones as wide
    # as a coordinate; the others count beats, FIFO places and credits (at most 10 bits here).
    cells = netlist_cells(StreamRotator(p, lanes))
    words = [cell for cell in cells if cell["type"] in ("$add", "$sub")
             and int(cell["parameters"]["Y_WIDTH"], 2) >= p.flip_width]
    assert len(words) == 2 * butterflies + (lanes if lanes < p.d else 0)
    assert sum(counts["rotator"][k] for k in ("adders", "subtractors")) > len(words)
    assert counts["rotator"]["multipliers"] == 0
    assert counts["norm unit"]["multipliers"] == lanes  # squarings the paper does not count
    # Each comparison the sign of one subtraction, 2 m + 1 > 2 theta (the quantizer's only
    # subtractions).
    assert counts["quantizer"]["comparators"] == 0
    assert counts["quantizer"]["subtractors"] == lanes * (p.half - 1)
    assert counts["quantizer"]["multipliers"] == counts["query table"]["multipliers"] == 0
    assert counts["write path"]["multipliers"] == lanes
    assert counts["score datapath"]["multipliers"] == 1  # by shift-and-add
    assert operation_counts(ScoreDatapath(p))["multipliers"] == 0
    assert counts["index store"]["memory bits"] == p.depth * p.row_width
    # The row register alone holds d*b index bits; the table memories two banks of d*half
    # entries.
    assert counts["write path"]["register bits"] > p.row_width
    assert counts["score datapath"]["memory bits"] == 2 * p.d * p.half * p.table_entry_width
    rows = {row[0]: row for row in report_rows(p, lanes, counts)}
    ours = p.depth  # one true multiplication per key and query
    assert rows["multiplications, 1 query over T keys"][2] == (
        f"{ours:,} ({p.depth * p.d / ours:.1f}x)")


def test_cli_report(tmp_path, capsys):
    out = tmp_path / "counts.json"
    assert main(["report", "--d", "8", "--depth", "64", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| write: comparators | d (2^b - 1) = 56 | 3 |" in text  # one lane by default
    assert json.loads(out.read_text())["blocks"]["score datapath"]["multipliers"] == 1


def test_cli_report_bad_parameter(capsys):
    assert main(["report", "--d", "12"]) == 2
    assert capsys.readouterr().err.strip() == (
        "axelram: error: d must be a power of two in 2..1024, got 12")


def test_cli_report_bad_lanes(capsys):
    assert main(["report", "--d", "8", "--lanes", "3"]) == 2
    assert capsys.readouterr().err.strip() == (
        "axelram: error: --lanes must be a power of two in 1..8 (d), got 3")


@pytest.mark.parametrize(("kind", "cells"), [("fabric", 0), ("dsp", 1)])
def test_score_multiplier(kind, cells):
    """One multiplication per score either way: shifts and adds (no multiplier cell) or one
    multiplier cell."""
    score = ScoreDatapath(Params(d=8, depth=16, score_multiplier=kind))
    assert operation_counts(score)["multipliers"] == cells
    assert cells + score.shift_add_multipliers == 1
