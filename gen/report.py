"""``axelram report``: what the generated hardware computes, measured from its netlist, beside
the paper's operation counts."""

from ..golden.params import Params
from ..hdl.encoder import KeyEncoder
from ..hdl.norm import NormUnit
from ..hdl.quantizer import Quantizer
from ..hdl.score import ScoreDatapath
from ..hdl.store import IndexStore
from ..hdl.stream_rotator import StreamRotator
from ..hdl.table import QueryTable
from .synth import operation_counts

__all__ = ["measure", "report_rows", "format_report"]

# Each block as the macro builds it for ``lanes``; "write path" is the whole key encoder (the
# three blocks before it, the threshold unit and the FIFOs of the join).
BLOCKS = {
    "rotator": StreamRotator, "norm unit": NormUnit, "quantizer": Quantizer,
    "write path": KeyEncoder, "index store": lambda p, lanes: IndexStore(p),
    "query table": QueryTable, "score datapath": ScoreDatapath,
}


def measure(p: Params, lanes: int) -> dict:
    """Operation counts and register bits of every block's netlist (Yosys), by block; the
    multipliers include those built of shifts and adds (``shift_add_multipliers``)."""
    counts = {}
    for name, make in BLOCKS.items():
        block = make(p, lanes)
        counts[name] = operation_counts(block)
        counts[name]["multipliers"] += getattr(block, "shift_add_multipliers", 0)
    return counts


def report_rows(p: Params, lanes: int, counts: dict) -> list[tuple[str, str, str, str]]:
    """``(operation, paper's formula and value, this design measured, note)`` rows."""
    d, levels, L, T = p.d, p.levels, p.log2_d, p.depth
    add_sub = ("adders", "subtractors")
    rot, norm, quant, write, table, score = (counts[k] for k in (
        "rotator", "norm unit", "quantizer", "write path", "query table", "score datapath"))
    folded = f"{lanes} lane(s), {d // lanes} cycle(s) per vector"
    mantissa = p.norm_mantissa if p.norm_rounded else p.norm_width
    conventional = T * d
    ours = table["multipliers"] + T * score["multipliers"]
    paper = d * levels + T
    return [
        ("write: FWHT add/sub", f"d/2 log2 d = {d // 2 * L} butterflies, {d * L} add/sub",
         f"{sum(rot[k] for k in add_sub)} add/sub, {rot['negations']} sign negations",
         (f"{folded}; the sign negations vanish when the sign vector is a ROM; the add/sub "
          "beyond the butterflies' count beats, FIFO places and credits")),
        ("write: norm", "0 (FP16 norm 'extracted')",
         f"{norm['multipliers']} squarers, {sum(norm[k] for k in add_sub)} add/sub",
         "an exact L2 norm needs d squarings and an integer square root"),
        ("write: comparators", f"d (2^b - 1) = {d * (levels - 1)}",
         f"{quant['comparators'] + quant['subtractors']}",
         (f"magnitude form: L (2^(b-1) - 1) = {lanes * (p.half - 1)} comparisons, each the "
          "sign of one registered subtraction (2m + 1 > 2 theta), of ones' complement "
          "magnitudes (no negation)")),
        ("write: quantizer arithmetic", "-",
         f"{quant['multipliers']} multipliers, {sum(quant[k] for k in add_sub)} add/sub",
         "the thresholds (boundary x norm, shift-and-add, once per key)"),
        ("write path registers", "-",
         f"{write['register bits']:,} flip-flops, {write['memory bits']:,} memory bits",
         "rotator (with its beat FIFOs and delay lines), norm unit, quantizer and row"),
        ("query: table products", f"d 2^b = {d * levels} multiplications",
         f"{table['multipliers']} multipliers, {sum(table[k] for k in add_sub)} add/sub",
         (f"positive half only ({d * p.half} entries), constants by shift-and-add, "
          f"{table['register bits']:,} register bits; the entries in two banks of LUT RAM in "
          f"the score datapath, {score['memory bits']:,} bits")),
        ("per key: adder tree", f"d - 1 = {d - 1}",
         f"{score['adders']} adders",
         ("entries, plus a narrow tree counting the negated lookups and one correction adder"
          " (ones'-complement lookups)")),
        ("per key: norm scaling", "1 multiplication", f"{score['multipliers']} multiplier",
         (f"significand x sum by shift-and-add ({mantissa} partial products, {mantissa - 1} "
          "adders, pipelined), then an exponent shift" if p.score_multiplier == "fabric" else
          "significand x sum, registered for a DSP block, then an exponent shift")),
        ("multiplications, 1 query over T keys",
         f"d 2^b + T = {paper:,} vs T d = {conventional:,} ({conventional / paper:.1f}x)",
         f"{ours:,} ({conventional / ours:.1f}x)", "true (variable x variable) multiplications"),
        ("memory per key",
         f"d b + 16 = {d * p.b + 16} bits vs 16 d = {16 * d} ({16 * d / (d * p.b + 16):.2f}x)",
         f"{p.row_width} bits ({16 * d / p.row_width:.2f}x)",
         f"d b index bits + a {p.norm_field_width}-bit norm field"),
        ("index store", f"T x row = {T * (d * p.b + 16):,} bits",
         f"{counts['index store']['memory bits']:,} bits", ""),
    ]


def format_report(p: Params, lanes: int, rows) -> str:
    header = (f"AXELRAM d={p.d} b={p.b} T={p.depth} in_width={p.in_width}, {lanes} lane(s): "
              "operations measured from each block's Yosys netlist")
    table = ["| operation | paper | this design | note |", "| --- | --- | --- | --- |"]
    table += [f"| {a} | {b} | {c} | {n} |" for a, b, c, n in rows]
    return "\n".join([header, "", *table, ""])
