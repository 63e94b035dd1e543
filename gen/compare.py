"""``axelram synth --baseline``: the conventional baseline beside the AXELRAM macro.

The baseline (:class:`~axelram.hdl.baseline.ConventionalMacro`, same ``d``, ``in_width`` and
``depth``) is synthesized, placed and routed on the same target as the macro;
:func:`compare` sets the two side by side. ``docs/baseline.md`` defines every field.
"""

from ..golden.params import Params
from ..hdl.baseline import ConventionalMacro
from ..hdl.score import ScoreDatapath
from .fpga import TARGETS, synthesize
from .synth import operation_counts

__all__ = ["TARGET_RATIOS", "multiplications_per_score", "compare", "side_by_side",
           "format_comparison", "summary_line"]

# Issue 6's targets at d=128, b=3, T=4096: the macro stores at least 5x the keys per block-RAM
# bit and needs at least 50x fewer multiplications per score than the conventional design.
TARGET_RATIOS = {"keys_per_bram_bit": 5, "multiplications_per_score": 50}

# Both designs score one stored key per clock cycle.
SCORES_PER_CYCLE = 1

DESIGNS = ("axelram", "baseline")


def multiplications_per_score(p: Params) -> dict[str, int]:
    """Variable-by-variable multiplications per score, counted in each netlist by Yosys.

    The macro's scores come from its :class:`~axelram.hdl.score.ScoreDatapath` (the table is
    built once per query from constants, by shift-and-add), whose one multiplication may be
    shifts and adds itself (``shift_add_multipliers``); the baseline has no multiplier outside
    its dot product.
    """
    score = ScoreDatapath(p)
    return {"axelram": operation_counts(score)["multipliers"] + score.shift_add_multipliers,
            "baseline": operation_counts(ConventionalMacro(p))["multipliers"]}


def compare(p: Params, target: str, macro: dict, baseline: dict,
            multiplications: dict[str, int]) -> dict:
    """The side by side of two :func:`~axelram.gen.fpga.synthesize` results on ``target``.

    Per design: the cell counts, ``bram_bits_per_key`` (the macro's row, ``d * in_width`` for
    the baseline), ``keys_on_chip`` (the device's block-RAM bits over that, rounded down),
    ``fits`` and ``overflow`` (of this ``depth``), ``fmax_mhz``, ``scores_per_second`` (Fmax
    times one score per cycle; None when not placed) and ``multiplications_per_score``. Then the
    two ``ratios`` of baseline to macro and the issue's ``targets`` for them.
    """
    bram_bits = TARGETS[target].bram_bits
    bits = {"axelram": p.row_width, "baseline": p.d * p.in_width}
    results = {"axelram": macro, "baseline": baseline}
    designs = {}
    for name in DESIGNS:
        result, fmax = results[name], results[name]["fmax_mhz"]
        designs[name] = {
            **{key: result[key]
               for key in ("luts", "ffs", "carries", "lut_rams", "dsps", "brams")},
            "bram_bits_per_key": bits[name],
            "keys_on_chip": bram_bits // bits[name],
            "fits": result["fits"],
            "overflow": {resource: list(result["utilization"][resource]) + [extra]
                         for resource, extra in result["overflow"].items()},
            "fmax_mhz": fmax,
            "scores_per_second": None if fmax is None else fmax * 1e6 * SCORES_PER_CYCLE,
            "multiplications_per_score": multiplications[name],
        }
    ours = multiplications["axelram"]
    return {
        "target": target, "bram_bits": bram_bits, "d": p.d, "in_width": p.in_width,
        "depth": p.depth, "designs": designs,
        "ratios": {
            "keys_per_bram_bit": bits["baseline"] / bits["axelram"],
            "multiplications_per_score": multiplications["baseline"] / ours if ours else None,
        },
        "targets": TARGET_RATIOS,
    }


def side_by_side(p: Params, target: str, macro: dict, *, clock_mhz: float, workdir,
                 seed: int | None = None) -> tuple[dict, dict]:
    """Synthesize the baseline on ``target`` (files in ``workdir``, nextpnr ``seed``) and compare
    it with the macro's result ``macro``: ``(baseline result, comparison)``."""
    baseline = synthesize(ConventionalMacro(p), target, clock_mhz=clock_mhz, workdir=workdir,
                          seed=seed)
    return baseline, compare(p, target, macro, baseline, multiplications_per_score(p))


def _overflow(design: dict) -> str:
    return ", ".join(f"{resource} {used:,}/{available:,} (+{extra:,})"
                     for resource, (used, available, extra) in design["overflow"].items())


def _fits(design: dict) -> str:
    return "yes" if design["fits"] else f"no: {_overflow(design)}"


def _ratio(comparison: dict, name: str, what: str) -> str:
    ratio, target = comparison["ratios"][name], comparison["targets"][name]
    if ratio is None:
        return f"{what}: - (the macro's score datapath has no multiplier)"
    met = "met" if ratio >= target else "not met"
    return (f"{what}: {ratio:.2f}x (issue 6 asks >= {target}x at d=128; {met} at "
            f"d={comparison['d']})")


def format_comparison(comparison: dict) -> list[str]:
    """The Markdown section of ``report.md``: the side-by-side table and the two ratios."""
    a, b = (comparison["designs"][name] for name in DESIGNS)

    def mhz(x):
        return "-" if x is None else f"{x:.1f}"

    def rate(x):
        return "-" if x is None else f"{x / 1e6:,.1f} M"

    rows = [
        ("LUT4s", f"{a['luts']:,}", f"{b['luts']:,}"),
        ("flip-flops", f"{a['ffs']:,}", f"{b['ffs']:,}"),
        ("carry cells", f"{a['carries']:,}", f"{b['carries']:,}"),
        ("LUT RAMs (16x4)", f"{a['lut_rams']:,}", f"{b['lut_rams']:,}"),
        ("DSPs", f"{a['dsps']:,}", f"{b['dsps']:,}"),
        ("block RAMs", f"{a['brams']:,}", f"{b['brams']:,}"),
        ("block-RAM bits per stored key", f"{a['bram_bits_per_key']:,}",
         f"{b['bram_bits_per_key']:,}"),
        (f"keys that fit on chip ({comparison['bram_bits']:,} block-RAM bits)",
         f"{a['keys_on_chip']:,}", f"{b['keys_on_chip']:,}"),
        (f"fits (T={comparison['depth']:,})", _fits(a), _fits(b)),
        ("Fmax (MHz)", mhz(a["fmax_mhz"]), mhz(b["fmax_mhz"])),
        ("scores per second", rate(a["scores_per_second"]), rate(b["scores_per_second"])),
        ("multiplications per score", f"{a['multiplications_per_score']:,}",
         f"{b['multiplications_per_score']:,}"),
    ]
    return [
        (f"## Beside the conventional baseline (d={comparison['d']}, "
         f"in_width={comparison['in_width']}, T={comparison['depth']:,}, on "
         f"{comparison['target']})"), "",
        "| metric | AXELRAM | conventional |", "| --- | --- | --- |",
        *(f"| {name} | {ours} | {theirs} |" for name, ours, theirs in rows), "",
        "- " + _ratio(comparison, "keys_per_bram_bit",
                      "keys per block-RAM bit, AXELRAM over conventional"),
        "- " + _ratio(comparison, "multiplications_per_score", "fewer multiplications per score"),
        "",
    ]


def summary_line(comparison: dict) -> str:
    """One console line on the baseline and the two ratios."""
    b, ratios = comparison["designs"]["baseline"], comparison["ratios"]
    where = ("no Fmax (not placed)" if b["fmax_mhz"] is None
             else f"Fmax {b['fmax_mhz']:.1f} MHz")
    fits = "" if b["fits"] else f"; does not fit {comparison['target']}: {_overflow(b)}"
    mults = ("-" if ratios["multiplications_per_score"] is None
             else f"{ratios['multiplications_per_score']:.1f}x")
    return (f"conventional baseline: {b['luts']:,} LUT4s, {b['ffs']:,} flip-flops, "
            f"{b['dsps']} DSPs, {b['brams']} block RAMs, {where}{fits}; AXELRAM stores "
            f"{ratios['keys_per_bram_bit']:.2f}x the keys per block-RAM bit with {mults} fewer "
            "multiplications per score")
