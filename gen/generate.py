"""``axelram gen``: the macro's Verilog, its manifest and a README for the generated core."""

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from amaranth.hdl import Value
from amaranth.lib.wiring import In

from ..golden.params import Params
from ..golden.signs import signs_from_text, signs_to_text
from ..hdl.macro import Macro
from .synth import to_verilog

__all__ = ["load_signs", "manifest", "generate"]

PORTS = {
    "clk": "clock; every register is on its rising edge",
    "rst": "synchronous reset, active high: empties the store and every pipeline",
    "keys__payload": "key beat: lanes two's complement coordinates of in_width bits, the lowest "
                     "coordinate in the low bits; beat k of a key carries coordinates "
                     "k*lanes .. k*lanes + lanes - 1",
    "keys__valid": "a key beat is offered",
    "keys__ready": "the key beat is accepted (low at a key's first beat while the store, "
                   "counting keys in flight, is full)",
    "queries__payload": "query beat: same format as a key beat",
    "queries__valid": "a query beat is offered",
    "queries__ready": "the query beat is accepted",
    "scores__payload": "bits [score_width-1:0]: score (two's complement), q.k ~= score * "
                       "2^score_scale_log2; top bit: last score of its query",
    "scores__valid": "a score is offered",
    "scores__ready": "the score is accepted (backpressure)",
    "clear": "one-cycle pulse: empty the store and drop keys in flight (a key whose first beat "
             "was accepted before the pulse is dropped)",
    "count": "keys stored",
    "full": "count == depth",
    "signs": "sign vector, bit j set negates coordinate j (hold stable while keys or queries "
             "flow)",
}


def load_signs(path, d: int, layer: int = 0) -> np.ndarray:
    """The sign vector of ``layer`` from an ``axelram calibrate`` file; ``ValueError`` if the
    file is unreadable, malformed, for another ``d``, or has no such layer."""
    try:
        document = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"signs file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"signs file {path} is not valid JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != "axelram-signs":
        raise ValueError(f"signs file {path} is not an axelram calibrate output")
    if document.get("d") != d:
        raise ValueError(f"signs file {path} is for d={document.get('d')}, not d={d}")
    layers = document.get("layers", [])
    if not 0 <= layer < len(layers):
        raise ValueError(f"signs file {path} has layers 0..{len(layers) - 1}, not {layer}")
    signs = signs_from_text(layers[layer].get("signs", ""))
    if signs.size != d:
        raise ValueError(f"signs file {path}: layer {layer} has {signs.size} signs, not {d}")
    return signs


def manifest(params: Params, signs, macro: Macro, name: str, sign_source: str,
             share_rotator: bool) -> dict:
    """Everything a user of the generated core needs, as plain JSON data."""
    ports = [{"name": "clk", "direction": "input", "width": 1, "meaning": PORTS["clk"]},
             {"name": "rst", "direction": "input", "width": 1, "meaning": PORTS["rst"]}]
    for path, member, value in macro.signature.flatten(macro):
        port = "__".join(map(str, path))
        ports.append({"name": port, "direction": "input" if member.flow == In else "output",
                      "width": len(Value.cast(value)), "meaning": PORTS[port]})
    cb = params.cb
    return {
        "format": "axelram-manifest", "version": 1, "module": name,
        "parameters": {
            "d": params.d, "b": params.b, "in_width": params.in_width, "depth": params.depth,
            "codebook": params.codebook, "codebook_frac": params.codebook_frac,
            "norm_frac": params.norm_frac, "table_width": params.table_width,
            "norm_mantissa": params.norm_mantissa, "signs": sign_source,
            "lanes": macro.lanes, "share_rotator": share_rotator,
        },
        "cycles_per_key": macro.beats,
        "widths": params.widths,
        "score_scale_log2": params.score_scale_log2,
        "table_shift": params.table_shift,
        "norm": {"stored": "reduced float" if params.norm_rounded else "exact",
                 "frac_bits": params.norm_frac, "mantissa_bits": params.norm_mantissa
                 if params.norm_rounded else None, "exponent_bits": params.exponent_width},
        "codebook": {
            "units": "standardized: rotated unit-vector coordinate times sqrt(d)",
            "mse_per_coordinate": cb.mse,
            "boundaries": cb.boundaries.tolist(), "centroids": cb.centroids.tolist(),
            "fixed_point_frac": params.codebook_frac,
            "boundaries_fixed_positive": params.boundaries_fixed.tolist(),
            "centroids_fixed_positive": params.centroids_fixed.tolist(),
        },
        "signs": None if signs is None else signs_to_text(signs),
        "latency": macro.latencies,
        "query_interval_min": macro.query_interval(1),
        "ports": ports,
    }


def _readme(m: dict) -> str:
    p, w = m["parameters"], m["widths"]
    latencies = ", ".join(f"{kind} {cycles}" for kind, cycles in m["latency"].items())
    ports = [f"| `{q['name']}` | {q['direction']} | {q['width']} | {q['meaning']} |"
             for q in m["ports"]]
    return "\n".join([
        f"# {m['module']}: AXELRAM macro, d={p['d']}, b={p['b']}",
        "",
        (f"Generated by axelram. Keys and queries: {p['d']} coordinates of {p['in_width']} bits,"
         f" {p['lanes']} per beat, {m['cycles_per_key']} beat(s) per vector (beat k carries"
         f" coordinates k*{p['lanes']} .. k*{p['lanes']} + {p['lanes'] - 1}). The store holds"
         f" {p['depth']} keys of {w['row']} bits. Scores are {w['score']}-bit two's complement,"
         f" q.k ~= score * 2^{m['score_scale_log2']} (q and k in input integer units)."),
        "",
        ("Streams use valid/ready: a transfer happens at a rising clock edge where both are"
         " high; valid never waits for ready, and the payload holds until its transfer. Writing:"
         f" one key per {m['cycles_per_key']} cycle(s). Querying: after a query, one score per"
         " stored key, in insertion order, one per cycle; the last score of a query has the top"
         " payload bit set. A query against an empty store produces no score."),
        "",
        "| port | direction | width | meaning |",
        "| --- | --- | --- | --- |",
        *ports,
        "",
        (f"Latencies in cycles: {latencies}. With queries waiting, a query takes max(n + 2,"
         f" {m['query_interval_min']}) cycles with n keys stored (the next query's table is"
         f" written while the current one is scored): one score per cycle from"
         f" {m['query_interval_min'] - 2} keys."),
        "",
        (f"`{m['module']}.json` lists every parameter, width, codebook constant and the sign"
         " vector."),
        "",
    ])


def generate(params: Params, out: Path, *, signs=None, sign_source: str, name: str = "axelram",
             share_rotator: bool = False, lanes: int | None = None):
    """Write ``<name>.v``, ``<name>.json`` and ``README.md`` into ``out``.

    ``signs`` None makes the sign vector a port. The files are written into a scratch folder
    beside ``out`` and moved in only when all exist, so a failure leaves no partial output.
    Same arguments, byte-identical files.
    """
    macro = Macro(params, lanes=lanes, signs=signs, share_rotator=share_rotator)
    text = to_verilog(macro, name)
    document = manifest(params, signs, macro, name, sign_source, share_rotator)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".axelram-gen-", dir=out.parent))
    try:
        (scratch / f"{name}.v").write_text(text)
        (scratch / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")
        (scratch / "README.md").write_text(_readme(document))
        out.mkdir(exist_ok=True)
        for file in scratch.iterdir():
            os.replace(file, out / file.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return document
