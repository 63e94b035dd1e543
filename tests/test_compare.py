# amaranth: UnusedElaboratable=no
"""``axelram synth --baseline``: the side-by-side math on synthetic results, and one real run.

The real run (d=8, b=2, in_width=8, T=64 on the LFE5U-25F, both designs placed and routed)
takes about 40 s of CPU, mostly the macro's (yowasp Yosys 0.70, nextpnr 0.11). What limits the
baseline's Fmax is in ``docs/baseline.md``.
"""

import json

import pytest
from amaranth.hdl import Fragment

from axelram.gen import cli, compare
from axelram.gen.compare import (
    format_comparison,
    multiplications_per_score,
    side_by_side,
    summary_line,
)
from axelram.gen.fpga import describe_path
from axelram.gen.synth import operation_counts
from axelram.golden.params import Params
from axelram.hdl.baseline import ConventionalMacro
from axelram.hdl.store import IndexStore

D128 = Params()  # d=128, b=3, in_width=16, T=4096: 400-bit rows


PATH = {"start": {"cell": "a_TRELLIS_FF_Q", "port": "Q", "loc": [1, 2]},
        "end": {"cell": "b_TRELLIS_FF_Q", "port": "M", "loc": [3, 4]}, "logic_cells": 1,
        "logic_ns": 1.0, "routing_ns": 3.75, "slowest_net": None}


def result(luts, fmax, overflow=None, used=None):
    """A :func:`~axelram.gen.fpga.synthesize` result on ecp5-85k; ``overflow`` of DP16KD."""
    utilization = {"DP16KD": (used or 90, 208), "MULT18X18D": (4, 156)}
    return {"target": "ecp5-85k", "part": "LFE5U-85F", "luts": luts, "ffs": 2 * luts,
            "carries": luts // 2, "lut_rams": luts // 100, "brams": used or 90, "dsps": 4,
            "fmax_mhz": fmax, "critical_path": None if fmax is None else PATH,
            "clock_mhz": 200.0, "utilization": utilization, "fits": overflow is None,
            "overflow": {} if overflow is None else {"DP16KD": overflow}}


MACRO = result(7000, 210.5)
BASELINE = result(30000, None, overflow=260, used=468)


def test_compare_d128():
    c = compare.compare(D128, "ecp5-85k", MACRO, BASELINE, {"axelram": 1, "baseline": 128})
    # ECP5-85K: 208 DP16KD of 18 Kbit.
    assert c["bram_bits"] == 208 * 18 * 1024 == 3_833_856
    ours, theirs = c["designs"]["axelram"], c["designs"]["baseline"]
    assert (ours["bram_bits_per_key"], theirs["bram_bits_per_key"]) == (400, 128 * 16)
    assert (ours["keys_on_chip"], theirs["keys_on_chip"]) == (9584, 1872)
    assert ours["scores_per_second"] == 210.5e6 and theirs["scores_per_second"] is None
    assert ours["fits"] and ours["overflow"] == {}
    assert not theirs["fits"] and theirs["overflow"] == {"DP16KD": [468, 208, 260]}
    assert (ours["luts"], theirs["luts"], theirs["ffs"], theirs["dsps"]) == (7000, 30000,
                                                                           60000, 4)
    assert c["ratios"] == {"keys_per_bram_bit": 2048 / 400, "multiplications_per_score": 128}
    assert c["targets"] == {"keys_per_bram_bit": 5, "multiplications_per_score": 50}
    assert (c["d"], c["in_width"], c["depth"], c["target"]) == (128, 16, 4096, "ecp5-85k")


def test_format_d128():
    c = compare.compare(D128, "ecp5-85k", MACRO, BASELINE, {"axelram": 1, "baseline": 128})
    lines = format_comparison(c)
    assert lines[0] == ("## Beside the conventional baseline (d=128, in_width=16, T=4,096, on "
                        "ecp5-85k)")
    for row in ("| LUT4s | 7,000 | 30,000 |",
                "| block-RAM bits per stored key | 400 | 2,048 |",
                "| keys that fit on chip (3,833,856 block-RAM bits) | 9,584 | 1,872 |",
                "| fits (T=4,096) | yes | no: DP16KD 468/208 (+260) |",
                "| Fmax (MHz) | 210.5 | - |",
                "| scores per second | 210.5 M | - |",
                "| multiplications per score | 1 | 128 |",
                ("- keys per block-RAM bit, AXELRAM over conventional: 5.12x (issue 6 asks >= "
                 "5x at d=128; met at d=128)"),
                ("- fewer multiplications per score: 128.00x (issue 6 asks >= 50x at d=128; "
                 "met at d=128)")):
        assert row in lines, row
    line = summary_line(c)
    assert "no Fmax (not placed); does not fit ecp5-85k: DP16KD 468/208 (+260)" in line
    assert "5.12x the keys per block-RAM bit with 128.0x fewer multiplications" in line


def test_targets_not_met_at_small_d():
    p = Params(d=32, b=3, depth=4096)  # 96 index bits + a 16-bit norm field
    c = compare.compare(p, "ecp5-85k", MACRO, result(5000, 180.0),
                        {"axelram": 1, "baseline": 32})
    assert c["ratios"] == {"keys_per_bram_bit": 512 / 112, "multiplications_per_score": 32}
    lines = format_comparison(c)
    assert "| fits (T=4,096) | yes | yes |" in lines
    assert ("- fewer multiplications per score: 32.00x (issue 6 asks >= 50x at d=128; not met "
            "at d=32)") in lines
    assert "Fmax 180.0 MHz; AXELRAM stores 4.57x" in summary_line(c)


def test_no_multiplier():
    c = compare.compare(D128, "ecp5-85k", MACRO, MACRO, {"axelram": 0, "baseline": 128})
    assert c["ratios"]["multiplications_per_score"] is None
    assert ("- fewer multiplications per score: - (the macro's score datapath has no "
            "multiplier)") in format_comparison(c)
    assert "with - fewer multiplications" in summary_line(c)


def test_block_ram_bits():
    assert [compare.TARGETS[t].bram_bits for t in ("ecp5-85k", "ecp5-25k", "ice40-up5k")] == [
        3744 * 1024, 1008 * 1024, 120 * 1024]  # data sheets: Kbit of EBR


def test_multiplications_per_score():
    """Counted by Yosys in the netlists: the macro's norm scaling, the baseline's d products."""
    assert multiplications_per_score(Params(d=8, b=2, depth=16)) == {"axelram": 1, "baseline": 8}


def test_bits_per_key_measured():
    """The bits per key the comparison uses are the memories' in the netlists."""
    p = Params(d=8, b=2, depth=16)
    c = compare.compare(p, "ecp5-25k", MACRO, MACRO, {"axelram": 1, "baseline": 8})
    stored = {"axelram": IndexStore(p), "baseline": ConventionalMacro(p)}
    for name, block in stored.items():
        bits = operation_counts(block)["memory bits"]
        assert bits == p.depth * c["designs"][name]["bram_bits_per_key"], name


@pytest.fixture
def fake_synthesis(monkeypatch):
    """``synthesize`` returns the macro's or the baseline's result by component; no Yosys (the
    component is only elaborated, and the work directory made)."""
    results = {}

    def fake(component, target, *, clock_mhz, workdir, seed=None):
        Fragment.get(component, None)
        workdir.mkdir(parents=True, exist_ok=True)
        results.setdefault("seeds", []).append((type(component).__name__, seed))
        return results[type(component).__name__]

    monkeypatch.setattr(cli, "synthesize", fake)
    monkeypatch.setattr(compare, "synthesize", fake)
    monkeypatch.setattr(compare, "multiplications_per_score",
                        lambda p: {"axelram": 1, "baseline": p.d})
    return results


@pytest.mark.parametrize(("macro_fits", "status"), [(True, 0), (False, 1)])
def test_cli_status(fake_synthesis, tmp_path, capsys, macro_fits, status):
    """Only the macro not fitting is an error; the baseline not fitting is reported."""
    fake_synthesis.update(Macro=MACRO if macro_fits else result(7000, None, 12, 220),
                          ConventionalMacro=BASELINE)
    out = tmp_path / "syn"
    assert cli.main(["synth", "--target", "ecp5-85k", "--d", "8", "--depth", "64", "--baseline",
                     "-o", str(out)]) == status
    report = json.loads((out / "report.json").read_text())
    assert report["baseline"] == json.loads(json.dumps(BASELINE))
    assert not report["comparison"]["designs"]["baseline"]["fits"]
    assert report["comparison"]["designs"]["axelram"]["fits"] == macro_fits
    assert "| fits (T=64) | " in (out / "report.md").read_text()
    assert report["comparison"]["ratios"]["multiplications_per_score"] == 8
    captured = capsys.readouterr()
    assert "conventional baseline: 30,000 LUT4s" in captured.out
    assert "does not fit ecp5-85k: DP16KD 468/208 (+260)" in captured.out
    assert ("axelram: error: does not fit" in captured.err) == (not macro_fits)
    assert fake_synthesis["seeds"] == [("Macro", None), ("ConventionalMacro", None)]


def test_cli_seed_places_both(fake_synthesis, tmp_path):
    """``--nextpnr-seed`` places the macro and the baseline with the same seed, and the report
    says so; the critical path follows the table."""
    fake_synthesis.update(Macro=MACRO, ConventionalMacro=BASELINE)
    out = tmp_path / "syn"
    assert cli.main(["synth", "--target", "ecp5-85k", "--d", "8", "--depth", "64", "--baseline",
                     "--nextpnr-seed", "7", "-o", str(out)]) == 0
    assert fake_synthesis["seeds"] == [("Macro", 7), ("ConventionalMacro", 7)]
    assert json.loads((out / "report.json").read_text())["nextpnr_seed"] == 7
    text = (out / "report.md").read_text()
    assert "| nextpnr seed | 7 |" in text
    assert ("\nCritical path: a -> b M: 1 logic cell(s), 1.00 ns logic + 3.75 ns routing.\n"
            in text)


def test_side_by_side_arguments(fake_synthesis, tmp_path):
    fake_synthesis.update(ConventionalMacro=BASELINE)
    baseline, comparison = side_by_side(Params(d=4, depth=8), "ecp5-85k", MACRO,
                                        clock_mhz=200, workdir=tmp_path)
    assert baseline is BASELINE
    assert comparison["designs"]["baseline"]["multiplications_per_score"] == 4


def test_cli_synth_baseline(tmp_path, capsys):
    """A real run on a small macro: both designs placed and routed, both reports written, the
    reports consistent with each other, exit 0."""
    out = tmp_path / "syn"
    assert cli.main(["synth", "--target", "ecp5-25k", "--d", "4", "--b", "2", "--depth", "64",
                     "--in-width", "8", "--clock", "100", "--baseline", "--nextpnr-seed", "3",
                     "-o", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["fits"] and report["luts"] > 0 and report["fmax_mhz"] > 50
    assert report["params"]["d"] == 4 and report["target"] == "ecp5-25k"
    assert report["clock_mhz"] == report["baseline"]["clock_mhz"] == 100
    text = (out / "report.md").read_text()
    assert "| fits | yes |" in text and "| nextpnr seed | 3 |" in text
    assert report["nextpnr_seed"] == 3
    assert f"\nCritical path: {describe_path(report['critical_path'])}.\n" in text
    c, baseline = report["comparison"], report["baseline"]
    ours, theirs = c["designs"]["axelram"], c["designs"]["baseline"]
    for key in ("luts", "ffs", "carries", "lut_rams", "dsps", "brams", "fmax_mhz", "fits"):
        assert ours[key] == report[key] and theirs[key] == baseline[key], key
    # One MULT18X18D per 8x8 multiplier; 64 keys of 32 bits in one 512x36 DP16KD.
    assert (baseline["dsps"], baseline["brams"]) == (4, 1)
    assert baseline["utilization"]["MULT18X18D"] == [4, 28]
    assert baseline["fits"] and baseline["fmax_mhz"] > 50
    assert (ours["multiplications_per_score"], theirs["multiplications_per_score"]) == (1, 4)
    # 8 index bits and a 13-bit norm field against 4 coordinates of 8 bits.
    assert (ours["bram_bits_per_key"], theirs["bram_bits_per_key"]) == (21, 32)
    assert (ours["keys_on_chip"], theirs["keys_on_chip"]) == (56 * 18432 // 21, 56 * 18432 // 32)
    assert theirs["scores_per_second"] == baseline["fmax_mhz"] * 1e6
    assert c["ratios"] == {"keys_per_bram_bit": 32 / 21, "multiplications_per_score": 4.0}
    # The Markdown section is the JSON's comparison, formatted.
    assert (out / "report.md").read_text().endswith("\n".join(format_comparison(c)))
    for name in ("top.v", "yosys.log", "nextpnr.log"):
        assert (out / "baseline" / name).stat().st_size > 0, name
    printed = capsys.readouterr().out
    assert "ecp5-25k:" in printed
    assert "conventional baseline: " in printed
