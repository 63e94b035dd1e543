"""The ``axelram`` command line.

Every failure a user can cause (a bad parameter, a missing or malformed file) prints one line on
stderr, ``axelram: error: ...``, exits with status 2 and leaves no output file behind.
"""

import argparse
import json
import os
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

import numpy as np

from ..golden.params import SCORE_MULTIPLIERS, Params
from ..golden.signs import calibrate, signs_from_seed, signs_to_text
from ..hdl.macro import Macro
from ..hdl.pipeline import check_lanes
from .fpga import TARGETS, NextpnrError, describe_path, synthesize
from .generate import generate, load_signs
from .report import format_report, measure, report_rows
from .sim import accuracy, simulate
from .synth import YosysError

__all__ = ["main"]


# Coordinates per cycle of the write path, the query rotation and the table fill: the folded
# design, whose read path still scores one key per cycle (issue 5 and docs/lanes.md).
DEFAULT_LANES = 1


class UsageError(Exception):
    """A problem with what the user passed; reported on one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"axelram: error: {message}\n")


def _add_params(parser):
    defaults = Params()
    group = parser.add_argument_group("macro parameters")
    group.add_argument("--d", type=int, default=defaults.d, help="head dimension (power of two)")
    group.add_argument("--b", type=int, default=defaults.b, help="index bits per coordinate")
    group.add_argument("--in-width", type=int, default=defaults.in_width,
                       help="input coordinate width, two's complement")
    group.add_argument("--depth", type=int, default=defaults.depth, help="stored keys (T)")
    group.add_argument("--codebook", default=defaults.codebook, choices=("gaussian", "beta"))
    group.add_argument("--codebook-frac", type=int, default=defaults.codebook_frac,
                       help="fractional bits of the codebook constants")
    group.add_argument("--norm-frac", type=int, default=defaults.norm_frac,
                       help="fractional bits of the key norm")
    group.add_argument("--table-width", type=int, default=defaults.table_width,
                       help="largest query-table entry width")
    group.add_argument("--norm-mantissa", type=int, default=defaults.norm_mantissa,
                       help="significant bits of the stored norm (0: exact)")
    group.add_argument("--score-multiplier", default=defaults.score_multiplier,
                       choices=SCORE_MULTIPLIERS,
                       help="the score's multiplication: shift-and-add in fabric, pipelined "
                       "(default), or a DSP multiplier for flows that register it inside")


def _add_signs(parser):
    group = parser.add_argument_group("sign vector").add_mutually_exclusive_group()
    group.add_argument("--signs", metavar="FILE", help="signs.json from axelram calibrate")
    group.add_argument("--sign-seed", type=int, default=0, help="seeded sign vector (default 0)")
    group.add_argument("--signs-port", action="store_true",
                       help="no sign ROM: load the sign vector through the `signs` port")
    parser.add_argument("--layer", type=int, default=0, help="layer of --signs (default 0)")
    parser.add_argument("--share-rotator", action="store_true",
                        help="rotate queries with the write path's rotator (less area, queries "
                        "pause key writes and run one at a time)")


def _add_lanes(parser):
    parser.add_argument("--lanes", type=int, default=DEFAULT_LANES,
                        help="coordinates per cycle of the write path, query rotation and table "
                        f"fill: a power of two in 1..d, d fully parallel (default {DEFAULT_LANES})")


def _lanes(args, p: Params) -> int:
    try:
        return check_lanes(p, args.lanes)
    except ValueError as error:
        raise UsageError(f"--{error}") from None


def _signs(args, d: int):
    """``(signs or None, description)`` from the sign options."""
    if args.signs_port:
        return None, "port"
    if args.signs is not None:
        try:
            return load_signs(args.signs, d, args.layer), f"file {args.signs} layer {args.layer}"
        except ValueError as error:
            raise UsageError(str(error)) from None
    if args.sign_seed < 0:
        raise UsageError(f"--sign-seed must be non-negative, got {args.sign_seed}")
    return signs_from_seed(args.sign_seed, d), f"seed {args.sign_seed}"


def _output_dir(path) -> Path:
    """``path`` as an output directory: it may be missing, but must not be a file."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"output {out} exists and is not a directory")
    return out


def _check_output_files(*paths):
    """Each output file asked for (not None) must be in an existing directory."""
    for path in paths:
        if path is not None and not Path(path).resolve().parent.is_dir():
            raise UsageError(f"output directory does not exist: {Path(path).parent}")


def _gen(args):
    p = _params(args)
    lanes = _lanes(args, p)
    signs, source = _signs(args, p.d)
    if not args.name.isidentifier():
        raise UsageError(f"--name must be a Verilog identifier, got {args.name!r}")
    out = _output_dir(args.out)
    document = generate(p, out, signs=signs, sign_source=source, name=args.name,
                        share_rotator=args.share_rotator, lanes=lanes)
    w = document["widths"]
    print(f"wrote {out / (args.name + '.v')}, {args.name}.json, README.md: d={p.d} b={p.b}, "
          f"{p.depth} keys x {w['row']} bits, {w['score']}-bit scores, {lanes} lane(s)")


def _sim(args):
    keys = load_npy(args.keys, (2, 3), "keys")
    queries = load_npy(args.queries, (2, 3), "queries")
    if keys.ndim != queries.ndim or keys.shape[:-2] != queries.shape[:-2]:
        raise UsageError(f"keys {keys.shape} and queries {queries.shape} must both be (N, d) or "
                         "both (heads, N, d) with the same heads")
    if keys.shape[-1] != queries.shape[-1]:
        raise UsageError(f"keys have d={keys.shape[-1]} but queries d={queries.shape[-1]}")
    if keys.shape[-2] == 0 or queries.shape[-2] == 0:
        raise UsageError("keys and queries must hold at least one vector each")
    if args.d is None:
        args.d = keys.shape[-1]
    elif args.d != keys.shape[-1]:
        raise UsageError(f"--d is {args.d} but the vectors have d={keys.shape[-1]}")
    p = _params(args)
    lanes = _lanes(args, p)
    signs, _ = _signs(args, p.d)
    if signs is None:
        raise UsageError("--signs-port: axelram sim needs a sign vector (--signs or --sign-seed)")
    _check_output_files(args.out, args.raw_out)
    heads = keys.reshape(-1, *keys.shape[-2:]), queries.reshape(-1, *queries.shape[-2:])
    result = simulate(p, signs, *heads, share_rotator=args.share_rotator, lanes=lanes)
    shape = (*queries.shape[:-1], keys.shape[-2])
    mismatches = int(np.count_nonzero(result["rtl"] != result["golden"]))
    exact = np.einsum("hqd,hnd->hqn", *heads[::-1])
    metrics = accuracy(result["estimate"], exact, p.d)
    n_scores = result["rtl"].size
    print(f"axelram sim: d={p.d} b={p.b}, {len(heads[0])} head(s), {keys.shape[-2]} keys x "
          f"{queries.shape[-2]} queries; scales: keys {result['key_scale']:.4g}, queries "
          f"{result['query_scale']:.4g}")
    print(f"RTL vs golden model: {n_scores - mismatches:,} of {n_scores:,} scores bit-exact")
    print(f"accuracy vs exact q.k: RMS error {metrics['rms_error']:.4g} "
          f"({metrics['relative_rms_error']:.2%} of RMS q.k), correlation "
          f"{metrics['correlation']:.5f}, softmax KL {metrics['softmax_kl']:.3g} nats, top-1 "
          f"agreement {metrics['top1_agreement']:.1%}")
    print(f"simulation: {result['cycles']:,} cycles in {result['seconds']:.2f} s, "
          f"{n_scores / result['seconds']:,.0f} scores/s "
          f"({result['total_seconds']:.1f} s including Verilog and build)")
    _save_npy(args.out, result["estimate"].reshape(shape))
    if args.raw_out:
        _save_npy(args.raw_out, result["rtl"].reshape(shape))
    if mismatches:
        print(f"axelram: error: the RTL differs from the golden model in {mismatches} scores",
              file=sys.stderr)
        return 1
    return 0


def _save_npy(path, array):
    fd, tmp = tempfile.mkstemp(dir=Path(path).resolve().parent, prefix=".axelram-", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _synth(args):
    p = _params(args)
    lanes = _lanes(args, p)
    signs, source = _signs(args, p.d)
    if args.clock <= 0:
        raise UsageError(f"--clock must be a positive frequency in MHz, got {args.clock}")
    seed = args.nextpnr_seed
    if seed is not None and seed < 0:
        raise UsageError(f"--nextpnr-seed must be non-negative, got {seed}")
    out = _output_dir(args.out)
    macro = Macro(p, lanes=lanes, signs=signs, share_rotator=args.share_rotator)
    result = synthesize(macro, args.target, clock_mhz=args.clock, workdir=out, seed=seed)
    summary = {"target": args.target, "params": _params_dict(p), "signs": source,
               "lanes": lanes, "share_rotator": args.share_rotator, **result,
               "nextpnr_seed": seed}
    section, line = [], None  # the baseline's Markdown section and console line
    if args.baseline:
        from .compare import format_comparison, side_by_side, summary_line

        summary["baseline"], comparison = side_by_side(
            p, args.target, result, clock_mhz=args.clock, workdir=out / "baseline", seed=seed)
        summary["comparison"] = comparison
        section, line = format_comparison(comparison), summary_line(comparison)
    write_atomic(out / "report.json", json.dumps(summary, indent=1) + "\n")
    rows = [("LUT4s", result["luts"]), ("flip-flops", result["ffs"]),
            ("carry cells", result["carries"]), ("LUT RAMs (16x4)", result["lut_rams"]),
            ("block RAMs", result["brams"]),
            ("DSPs", result["dsps"]),
            ("Fmax (MHz)", "-" if result["fmax_mhz"] is None else f"{result['fmax_mhz']:.1f}"),
            ("fits", "yes" if result["fits"] else "no"),
            ("nextpnr seed", "default" if seed is None else seed)]
    usage = [f"| {name} | {used} / {available} |"
             for name, (used, available) in result["utilization"].items()]
    write_atomic(out / "report.md", "\n".join([
        (f"# AXELRAM d={p.d} b={p.b} T={p.depth}, {lanes} lane(s), on {args.target} "
        f"({args.clock:g} MHz asked)"), "",
        "| metric | value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows), "",
        "| nextpnr resource | used / available |", "| --- | --- |", *usage, "",
        *([] if result["fmax_mhz"] is None
          else [f"Critical path: {describe_path(result['critical_path'])}.", ""]),
        *section]))
    print(f"{args.target}: {result['luts']} LUT4s, {result['ffs']} flip-flops, "
          f"{result['carries']} carry cells, {result['lut_rams']} LUT RAMs, "
          f"{result['brams']} block RAMs, {result['dsps']} DSPs, "
          + ("no Fmax (not placed)" if result["fmax_mhz"] is None
             else f"Fmax {result['fmax_mhz']:.1f} MHz") + f"; wrote {out / 'report.md'}")
    if line:
        print(line)
    if not result["fits"]:
        over = ", ".join(f"{name} {result['utilization'][name][0]}/"
                         f"{result['utilization'][name][1]} (+{extra})"
                         for name, extra in result["overflow"].items())
        print(f"axelram: error: does not fit {args.target}: {over}", file=sys.stderr)
        return 1
    return 0


def _sweep(args):
    # Imported here: gen/sweep.py imports this module (DEFAULT_LANES, write_atomic).
    from .sweep import plan_sweep, run_sweep

    try:
        plan = plan_sweep(args.target, args.out, jobs=args.jobs, only=args.only,
                          check=args.check, update=args.update)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return run_sweep(plan)


def _unset_macro_options() -> dict:
    """``set_defaults`` of ``board`` and ``host``: the macro options (Params' fields and
    ``lanes``) are None unless given, so that ``board`` can fill them from the board's defaults
    (:func:`_board_defaults`) and ``host`` checks only the given ones against the board."""
    return {"lanes": None, **{name: None for name in _params_dict(Params())}}


def _board_defaults(args, defaults: dict, lanes: int):
    """Fill the macro options the user left out (None) from ``defaults``, then Params'."""
    for name, value in {**_params_dict(Params()), **defaults, "lanes": lanes}.items():
        if getattr(args, name, 0) is None:
            setattr(args, name, value)


def _board(args):
    from .board import BOARDS, BoardError, build

    spec = BOARDS[args.board]
    _board_defaults(args, spec.params, spec.lanes)
    if args.signs_port or args.share_rotator:
        raise UsageError("--signs-port and --share-rotator do not apply to a board build (the "
                         "host link reports the sign ROM; each board sets share_rotator)")
    p = _params(args)
    lanes = _lanes(args, p)
    signs, source = _signs(args, p.d)
    out = _output_dir(args.out)
    if not out.resolve().parent.is_dir():
        raise UsageError(f"output directory's parent does not exist: {out.parent}")
    try:
        report = build(args.board, p, lanes=lanes, signs=signs, sign_source=source,
                       baud=args.baud, out=out)
    except (ValueError, BoardError) as error:
        raise UsageError(f"{error}") from None
    usage = ", ".join(f"{name} {used}/{available}"
                      for name, (used, available) in report["utilization"].items() if used)
    print(f"{args.board}: wrote {out / report['bitstream']}, report.md; {usage}; Fmax "
          f"{report['fmax_mhz']:.1f} MHz at {report['clock_mhz']:g} MHz (margin "
          f"{report['margin_mhz']:.1f} MHz); {report['build_seconds']:.0f} s")


def _host(args):
    from . import host
    from .sim import accuracy, to_integers

    keys = load_npy(args.keys, (2,), "keys")
    queries = load_npy(args.queries, (2,), "queries")
    if len(keys) == 0 or len(queries) == 0:
        raise UsageError("keys and queries must hold at least one vector each")
    _check_output_files(args.out, args.raw_out)
    try:
        link = host.Link(host.open_port(args.port, args.baud), args.baud)
        link.resync()
        identity = link.identify()
        p = identity.params
        asked = {name: getattr(args, name) for name in _params_dict(p)
                 if getattr(args, name) is not None}
        wrong = [f"{name} {getattr(p, name)} (asked {value})" for name, value in asked.items()
                 if getattr(p, name) != value]
        if args.lanes is not None and args.lanes != identity.lanes:
            wrong.append(f"lanes {identity.lanes} (asked {args.lanes})")
        if args.signs is not None or args.sign_seed is not None:
            if tuple(int(s) for s in _signs(args, p.d)[0]) != identity.signs:
                wrong.append("another sign vector than asked")
        if wrong:
            raise UsageError(f"the board's macro differs: {', '.join(wrong)}")
        if keys.shape[1] != p.d or queries.shape[1] != p.d:
            raise UsageError(f"the board's macro has d={p.d}; keys {keys.shape} and queries "
                             f"{queries.shape} must be (N, {p.d})")
        if len(keys) > p.depth:
            raise UsageError(f"{len(keys)} keys do not fit the board's store of {p.depth}")
        key_ints, key_scale = to_integers(keys, p)
        query_ints, query_scale = to_integers(queries, p)
        print(f"axelram host: {args.port} at {args.baud} baud: {identity.describe()}")
        result = host.run(link, key_ints, query_ints, identity)
    except host.LinkError as error:
        raise UsageError(str(error)) from None
    estimate = result["board"] * 2.0**p.score_scale_log2 * key_scale * query_scale
    metrics = accuracy(estimate, queries @ keys.T, p.d)
    mismatches = int(np.count_nonzero(result["board"] != result["golden"]))
    print(f"board vs golden model: {result['board'].size - mismatches:,} of "
          f"{result['board'].size:,} scores bit-exact")
    print(f"accuracy vs exact q.k: RMS error {metrics['rms_error']:.4g} "
          f"({metrics['relative_rms_error']:.2%} of RMS q.k), top-1 agreement "
          f"{metrics['top1_agreement']:.1%}")
    _save_npy(args.out, estimate)
    if args.raw_out:
        _save_npy(args.raw_out, result["board"])
    if mismatches:
        first = np.argwhere(result["board"] != result["golden"])[0]
        print(f"axelram: error: the board differs from the golden model in {mismatches} scores "
              f"(first: query {first[0]}, key {first[1]})", file=sys.stderr)
        return 1
    return 0


def _report(args):
    p = _params(args)
    lanes = _lanes(args, p)
    counts = measure(p, lanes)
    print(format_report(p, lanes, report_rows(p, lanes, counts)))
    if args.json:
        write_atomic(Path(args.json), json.dumps(
            {"params": _params_dict(p), "lanes": lanes, "blocks": counts}, indent=1) + "\n")


def _params_dict(p: Params) -> dict:
    return {f.name: getattr(p, f.name) for f in fields(p)}


def _params(args) -> Params:
    try:
        return Params(d=args.d, b=args.b, in_width=args.in_width, depth=args.depth,
                      codebook=args.codebook, codebook_frac=args.codebook_frac,
                      norm_frac=args.norm_frac, table_width=args.table_width,
                      norm_mantissa=args.norm_mantissa,
                      score_multiplier=args.score_multiplier)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None


def _info(args):
    p = _params(args)
    cb = p.cb
    print(f"AXELRAM d={p.d} b={p.b} in_width={p.in_width} depth={p.depth} codebook={p.codebook}")
    print(f"codebook MSE per coordinate {cb.mse:.6g} (standardized), {cb.mse / p.d:.6g} (unit)")
    print("boundaries  " + " ".join(f"{t:+.4f}" for t in cb.boundaries))
    print("centroids   " + " ".join(f"{c:+.4f}" for c in cb.centroids))
    print(f"fixed point (2^-{p.codebook_frac}): boundaries {p.boundaries_fixed.tolist()} "
          f"centroids {p.centroids_fixed.tolist()}")
    print(f"table shift {p.table_shift}; q.k ~= score * 2^{p.score_scale_log2}")
    for name, width in p.widths.items():
        print(f"  {name:<22} {width:>4} bits")


def load_npy(path: str, ranks: tuple[int, ...], what: str) -> np.ndarray:
    """A finite float array of one of ``ranks`` from a ``.npy`` file, or a :class:`UsageError`."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"{what} file not found: {path}") from None
    except (OSError, ValueError, EOFError) as error:
        raise UsageError(f"{what} file {path} is not a valid .npy array: {error}") from None
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise UsageError(f"{what} in {path} must be numeric, got dtype {array.dtype}")
    if array.ndim not in ranks:
        shapes = " or ".join(f"{n}-D" for n in ranks)
        raise UsageError(f"{what} in {path} must be {shapes}, got shape {array.shape}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise UsageError(f"{what} in {path} contain NaN or inf")
    return array


def write_atomic(path: Path, text: str):
    """Write ``text`` to ``path`` through a temporary file, so no half-written file is left."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=".axelram-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _calibrate(args):
    keys = load_npy(args.keys, (2, 3), "keys")
    if keys.ndim == 2:
        keys = keys[None]
    d = keys.shape[-1]
    try:
        cb = Params(d=d, b=args.b, codebook=args.codebook).cb
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    if args.candidates < 1:
        raise UsageError(f"--candidates must be at least 1, got {args.candidates}")
    if keys.shape[1] == 0:
        raise UsageError(f"keys in {args.keys} hold no vector (shape {keys.shape})")
    out = Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f"output directory does not exist: {out.parent}")

    layers = []
    print(f"{'layer':>5} {'norm ratio':>10} {'seed':>5} {'MSE chosen':>11} {'MSE default':>11}")
    for index, layer_keys in enumerate(keys):
        try:
            result = calibrate(layer_keys, cb, args.candidates)
        except ValueError as error:
            raise UsageError(f"layer {index}: {error}") from None
        print(f"{index:>5} {result.norm_ratio:>10.2f} {result.seed:>5} {result.mse:>11.4e} "
              f"{result.default_mse:>11.4e}")
        layers.append({
            "layer": index, "seed": result.seed, "signs": signs_to_text(result.signs),
            "mse": result.mse, "default_mse": result.default_mse,
            "norm_ratio": result.norm_ratio,
        })
    document = {
        "format": "axelram-signs", "version": 1, "d": d, "b": args.b,
        "codebook": args.codebook, "candidates": args.candidates, "layers": layers,
    }
    write_atomic(out, json.dumps(document, indent=1) + "\n")
    print(f"wrote {out}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="axelram", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = commands.add_parser("gen", help="generate the macro's Verilog, manifest and README")
    _add_params(gen)
    _add_signs(gen)
    _add_lanes(gen)
    gen.add_argument("-o", "--out", required=True, help="output directory")
    gen.add_argument("--name", default="axelram", help="Verilog module name (default axelram)")
    gen.set_defaults(run=_gen)

    sim = commands.add_parser(
        "sim", help="run your keys and queries through the generated RTL (Verilator)")
    _add_params(sim)
    _add_signs(sim)
    _add_lanes(sim)
    sim.set_defaults(d=None, run=_sim)
    sim.add_argument("--keys", required=True, help=".npy of keys (N, d) or (heads, N, d)")
    sim.add_argument("--queries", required=True,
                     help=".npy of queries (Q, d) or (heads, Q, d)")
    sim.add_argument("--out", required=True, help=".npy for the scores, estimates of q.k")
    sim.add_argument("--raw-out", help=".npy for the RTL's integer scores")

    syn = commands.add_parser(
        "synth", help="Yosys and nextpnr: resources, Fmax and fit of the macro on an FPGA")
    _add_params(syn)
    _add_signs(syn)
    _add_lanes(syn)
    syn.add_argument("--target", required=True, choices=list(TARGETS))
    syn.add_argument("--clock", type=float, default=200.0, help="clock to aim for, MHz")
    syn.add_argument("--nextpnr-seed", type=int,
                     help="nextpnr's placement seed (default: its own); placements of one "
                     "netlist differ by several percent of Fmax")
    syn.add_argument("-o", "--out", required=True, help="output directory")
    syn.add_argument("--baseline", action="store_true",
                     help="also place the conventional baseline (same d, in_width, depth) and "
                     "compare; its not fitting is reported, not an error")
    syn.set_defaults(run=_synth)

    swp = commands.add_parser(
        "sweep", help="axelram synth for d in 16..128 and b in 2..4, checked against a baseline",
        description="Synthesize, place and route the macro for d in {16, 32, 64, 128} and b in "
        "{2, 3, 4} (other parameters at their defaults); write OUT/sweep.json and OUT/sweep.md "
        "(docs/sweep.md).")
    swp.add_argument("--target", default="ecp5-85k", choices=list(TARGETS))
    swp.add_argument("-o", "--out", required=True, help="output directory")
    swp.add_argument("--jobs", type=int, default=1,
                     help="configurations placed and routed in parallel (default 1)")
    swp.add_argument("--only", help="these configurations only, DxB comma-separated: 16x3,32x2")
    reference = swp.add_mutually_exclusive_group()
    reference.add_argument("--check", metavar="BASELINE",
                           help="compare with a sweep baseline; exit 1 if a metric is out of "
                           "tolerance")
    reference.add_argument("--update", metavar="BASELINE",
                           help="write the configurations run into a sweep baseline (others "
                           "kept)")
    swp.set_defaults(run=_sweep)

    brd = commands.add_parser(
        "board", help="bitstream of the macro behind a UART host link for a real board",
        description="Build the macro behind its UART host link for an FPGA board with "
        "amaranth-boards, Yosys and nextpnr (docs/board.md). Macro options left out take the "
        "board's defaults.")
    from .board import BOARDS

    brd.add_argument("--board", required=True, choices=list(BOARDS))
    _add_params(brd)
    _add_signs(brd)
    _add_lanes(brd)
    brd.set_defaults(run=_board, **_unset_macro_options())
    brd.add_argument("--baud", type=int, default=115200, help="UART baud rate (default 115200)")
    brd.add_argument("-o", "--out", required=True, help="output directory")

    hst = commands.add_parser(
        "host", help="write keys and score queries on a board over its serial port",
        description="Talk to a board built by `axelram board`: check its macro against the "
        "options given, write the keys, score the queries, compare every score with the "
        "golden model (exit 1 on a mismatch). Needs pyserial: pip install 'axelram[host]'.")
    hst.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB0")
    hst.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    hst.add_argument("--keys", required=True, help=".npy of keys (N, d)")
    hst.add_argument("--queries", required=True, help=".npy of queries (Q, d)")
    hst.add_argument("--out", required=True, help=".npy for the scores, estimates of q.k")
    hst.add_argument("--raw-out", help=".npy for the board's integer scores")
    _add_params(hst)
    _add_lanes(hst)
    checked = hst.add_argument_group("sign vector (checked against the board's)")
    checked = checked.add_mutually_exclusive_group()
    checked.add_argument("--signs", metavar="FILE", help="signs.json from axelram calibrate")
    checked.add_argument("--sign-seed", type=int, help="seeded sign vector")
    hst.add_argument("--layer", type=int, default=0, help="layer of --signs (default 0)")
    hst.set_defaults(run=_host, signs_port=False, **_unset_macro_options())

    rep = commands.add_parser(
        "report", help="operation counts measured from the netlist, beside the paper's")
    _add_params(rep)
    _add_lanes(rep)
    rep.add_argument("--json", help="also write the measured counts to this JSON file")
    rep.set_defaults(run=_report)

    info = commands.add_parser("info", help="print a macro's codebook, constants and widths")
    _add_params(info)
    info.set_defaults(run=_info)

    cal = commands.add_parser(
        "calibrate", help="choose sign vectors per layer (the paper's Algorithm 1)",
        description="Among --candidates seeded sign vectors, keep per layer the one whose "
        "rotation quantizes the calibration keys with the lowest MSE. Candidate 0 is the "
        "default sign vector (seed 0).")
    cal.add_argument("--keys", required=True, help=".npy of keys shaped (N, d) or (layers, N, d)")
    cal.add_argument("--b", type=int, default=Params().b, help="index bits per coordinate")
    cal.add_argument("--codebook", default="gaussian", choices=("gaussian", "beta"))
    cal.add_argument("--candidates", type=int, default=200, help="sign vectors tried per layer")
    cal.add_argument("--out", required=True, help="JSON file to write")
    cal.set_defaults(run=_calibrate)
    return parser


def tool_failure(error: Exception) -> str:
    """One line for a tool's failure (:class:`YosysError`, :class:`NextpnrError`: a first line,
    then the tail of the tool's log): the first line and the log's last ``ERROR`` line, else
    its last line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    errors = [line for line in lines[1:] if line.startswith("ERROR")]
    detail = errors[-1] if errors else lines[-1] if len(lines) > 1 else ""
    return f"{lines[0]} {detail}".strip()


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except UsageError as error:
        print(f"axelram: error: {error}", file=sys.stderr)
        return 2
    except (YosysError, NextpnrError) as error:
        print(f"axelram: error: {tool_failure(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
