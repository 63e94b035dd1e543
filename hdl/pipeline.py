"""What the pipelined blocks share: one stall signal for the whole pipeline, lanes, and FIFOs
whose outputs come from registers."""

from math import isqrt

from amaranth.hdl import Cat, Const, Elaboratable, Module, Mux, Signal, Value
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import Out

from ..golden.params import Params

__all__ = ["stall_pipeline", "register", "branch_count", "copies", "counter_below", "delay",
           "check_lanes", "Folded", "DistributedFIFO", "BlockFIFO", "fast_fifo",
           "DISTRIBUTED_DEPTH", "BLOCK_SLICE_BITS", "DELAY_MEMORY_CYCLES", "flow"]

#: The deepest FIFO that :func:`fast_fifo` keeps in distributed RAM: one 16-entry RAM cell per
#: four bits, no read multiplexer. Deeper ones add a multiplexer before the read register (a
#: LUT and a PFUMX up to 64 entries), a path of 3.7 to 4.2 ns of routing that held the one-lane
#: d=16 and d=32 macros to 186 to 198 MHz; a 266-entry one had four levels: 7 ns.
DISTRIBUTED_DEPTH = 16

#: Column slice of a :class:`BlockFIFO`: the widest ECP5 block RAM port (DP16KD 1024 x 18)
#: whose output register the FPGA flow folds.
BLOCK_SLICE_BITS = 18


#: The shortest delay that :func:`delay` keeps in a memory (16 entries, one LUT RAM cell deep):
#: shorter ones are chains of flip-flops.
DELAY_MEMORY_CYCLES = 15

#: The deepest delay memory in LUT RAM: one 16-entry cell deep, so that no multiplexer comes
#: after its read (64 entries, four cells and a multiplexer, were the one-lane encoder's
#: critical path: 4.8 ns); deeper ones are block RAM.
_DELAY_LUT_RAM_ENTRIES = 16

#: Registers behind a delay's memory: its read register, an output register (which the ECP5
#: flow folds into a block RAM), and one in fabric beside the delayed value's loads. One more
#: before its write port.
_DELAY_READ_STAGES = 3


def flow(shape) -> wiring.Signature:
    """A stream without backpressure: ``valid`` and ``payload``, and the receiver takes each
    payload in the cycle it is valid. (Amaranth 0.5 cannot emit a component port for an
    ``always_ready`` stream's constant ``ready``.)"""
    return wiring.Signature({"valid": Out(1), "payload": Out(shape)})


def _entries(depth: int) -> int:
    """A FIFO memory's entries: ``depth`` rounded up to a power of two, so that its addresses
    wrap with no comparison."""
    return 1 << (depth - 1).bit_length()


def _pointers(m, depth: int, write, read, count: int):
    """The write and read addresses of a FIFO of ``depth`` entries (in a memory of
    :func:`_entries`), which ``write`` and ``read`` move on, and ``count`` registers that flag,
    a cycle late, that it held at most ``0, 1, ..., count - 1`` entries.

    Flag ``j`` is the sign of ``produce - (consume + j + 1)``, a subtraction's carry chain
    from registers (the pointers ``consume + 1 .. consume + count`` are registers beside
    ``consume``, and the pointers have the bits that keep the sign exact), so no count of the
    entries and no comparison come after a handshake.
    """
    top = (max(depth, count) - 1).bit_length()
    produce = Signal(top + 1)
    ahead = [Signal(top + 1, init=j, name=f"consume_{j}") for j in range(count + 1)]
    flags = [Signal(init=1, name=f"at_most_{j}") for j in range(count)]
    m.d.sync += [flag.eq((produce - pointer)[top])
                 for flag, pointer in zip(flags, ahead[1:], strict=True)]
    with m.If(write):
        m.d.sync += produce.eq(produce + 1)
    with m.If(read):
        m.d.sync += [[pointer.eq(later) for pointer, later in zip(ahead, ahead[1:], strict=False)],
                     ahead[-1].eq(ahead[-1] + 1)]
    bits = (depth - 1).bit_length()
    return produce[:bits], ahead[0][:bits], flags


class DistributedFIFO(Elaboratable):
    """A synchronous FIFO in distributed (LUT) RAM whose outputs come from registers, for a
    writer that reserves its places: a shallow FIFO on a fast path.

    The writer never writes into a full FIFO (``depth`` entries written and not read): there is
    no ``w_rdy``, so the write enables of the RAM cells come from ``w_en`` alone, not from a
    comparison of a level (the rotator's input FIFO at d=32 spent 5.3 ns there). The entries
    wait in a memory of ``depth`` entries rounded up to a power of two (Yosys ``ram_style =
    "distributed"``: ``ceil(entries/16) * ceil(width/4)`` ECP5 16x4 RAM cells and their read
    multiplexer; on the iCE40, which has no distributed RAM, Yosys chooses) and move into the
    output register while it is empty or being read.
    ``r_rdy`` and whether the RAM holds an entry are registers, so the consumer's ``r_en`` is
    the only input of the output register's load enable that is not a flip-flop; no count of
    the entries follows it (whether the RAM holds two comes from the pointers' difference a
    cycle before). With
    ``fall_through`` there is no output register: ``r_data`` is the RAM's asynchronous read of
    the oldest entry and ``r_rdy`` the register that says the RAM holds one.

    With ``rdy_copy``, ``r_rdy_copy`` is a second flip-flop that always holds ``r_rdy``, for
    logic placed away from the FIFO: a join of two FIFOs reads each one's flag from a copy
    beside the other, so that no LUT that both read enables share takes the join across
    twice. Both are ``keep``, so that synthesis does not merge them: with ``r_rdy`` not kept,
    Yosys merged it into the copy, and the one flip-flop took the key encoder's join across
    the die (40 rows, 3.8 ns in a d=128 macro).

    Latency :attr:`latency` cycles from a write into the empty FIFO to ``r_rdy``:
    :attr:`LATENCY` = 2, or 1 with ``fall_through``; throughput one entry per cycle.

    Attributes
    ----------
    w_data : Signal(width), in
    w_en : Signal(), in
    r_data : Signal(width), out
    r_rdy : Signal(), out
    r_rdy_copy : Signal(), out, with ``rdy_copy`` only
    r_en : Signal(), in
    """

    LATENCY = 2

    def __init__(self, *, width: int, depth: int, fall_through: bool = False,
                 rdy_copy: bool = False):
        self.width, self.depth, self.fall_through = width, depth, fall_through
        self.w_data = Signal(width)
        self.w_en = Signal()
        self.r_data = Signal(width)
        self.r_rdy = Signal(attrs={"keep": 1} if rdy_copy else {})
        self.r_en = Signal()
        self.r_rdy_copy = Signal(name="r_rdy_copy", attrs={"keep": 1}) if rdy_copy else None

    @property
    def latency(self) -> int:
        return 1 if self.fall_through else self.LATENCY

    def elaborate(self, platform):
        m = Module()
        mem = memory.Memory(shape=self.width, depth=_entries(self.depth), init=[],
                            attrs={"ram_style": "distributed"})
        m.submodules.storage = mem
        # The output register is the read port's own (with `load` its enable), so that the
        # iCE40, which has no asynchronous RAM read, can map the memory to block RAM.
        wr = mem.write_port()
        rd = mem.read_port(domain="comb" if self.fall_through else "sync")
        # `available` (the RAM holds an entry) is a register; `two` (it holds two or more),
        # which `available` takes as an entry leaves, is a LUT of registers: what the RAM held
        # the cycle before (the pointers' flags) and that cycle's write and load (`wrote`,
        # `loaded`). So no count of the entries follows `r_en`.
        available = Signal()
        load = Signal()
        wrote = Signal()
        loaded = Signal()
        produce, consume, at_most = _pointers(m, self.depth, self.w_en, load, 3)
        two = Mux(wrote & ~loaded, ~at_most[0], Mux(loaded & ~wrote, ~at_most[2], ~at_most[1]))
        m.d.comb += [wr.addr.eq(produce), wr.data.eq(self.w_data), wr.en.eq(self.w_en),
                     rd.addr.eq(consume), self.r_data.eq(rd.data)]
        holds = Mux(load, two | self.w_en, available | self.w_en)
        m.d.sync += [wrote.eq(self.w_en), loaded.eq(load), available.eq(holds)]
        if self.fall_through:
            m.d.comb += [load.eq(available & self.r_en), self.r_rdy.eq(available)]
            rdy = holds
        else:
            m.d.comb += [load.eq(available & (~self.r_rdy | self.r_en)), rd.en.eq(load)]
            rdy = load | (self.r_rdy & ~self.r_en)
            m.d.sync += self.r_rdy.eq(rdy)
        if self.r_rdy_copy is not None:
            m.d.sync += self.r_rdy_copy.eq(rdy)
        return m


class BlockFIFO(Elaboratable):
    """A synchronous FIFO in block RAM whose outputs come from registers, for a writer that
    reserves its places: a deep FIFO on a fast path.

    The writer never writes into a full FIFO (``depth`` entries written and not read): there is
    no ``w_rdy``, so no count of the entries sits between ``r_en`` and the write (the rotator
    reserves each beat's place before its vector enters). The entries wait in memories of at
    most :data:`BLOCK_SLICE_BITS` bits (column slices) and ``depth`` entries rounded up to a
    power of two (no more block RAM up to 1024 entries) behind two registers: the RAM's read
    register, then one with no enable and no reset that the ECP5 flow folds into the block
    RAM's output register (``REGMODE = OUTREG``, :func:`axelram.gen.fpga.fold_output_registers`,
    which leaves 36-bit ports alone: hence the slices). Reads are issued ahead, one per cycle
    while the RAM holds an entry not yet read (``available``: a LUT of registers, from the
    pointers' difference a cycle before) and a place is free for it (a count of the places
    taken, its flag a register), into a :class:`DistributedFIFO` of :attr:`buffer_places`
    entries whose output is this FIFO's. An issued read never collides: an entry is read at
    the earliest the cycle after it is written.

    With ``hops``, the entries read travel to the buffer through ``hops`` registers more, and
    the places it frees come back through as many, so that the buffer and its consumer may sit
    across the die from the block RAM with nothing but flip-flops between them (the one-lane
    d=64, b=4 macro's query table and the buffer beside its rotator's block RAM, 20 to 25 rows
    apart, handshook through two LUTs and 5 ns of routing: 167 MHz).

    Latency :attr:`latency` = :attr:`LATENCY` + ``hops`` cycles from an entry's write (into an
    empty FIFO) to ``r_rdy`` (the read issued, the RAM, the output register, the hops, the
    buffer's two); throughput one entry per cycle. ``r_rdy`` comes from a register.

    Attributes
    ----------
    w_data : Signal(width), in
    w_en : Signal(), in
    r_data : Signal(width), out
    r_rdy : Signal(), out
    r_en : Signal(), in
    """

    LATENCY = 5
    #: Buffer places without hops: a read's place is taken from its issue until two cycles
    #: after its entry leaves (the consumer's handshake is registered, then counted), 6 cycles
    #: at one read per cycle; each hop adds two.
    BUFFER = 6

    def __init__(self, *, width: int, depth: int, hops: int = 0):
        if not isinstance(hops, int) or isinstance(hops, bool) or hops < 0:
            raise ValueError(f"hops must be a non-negative integer, got {hops!r}")
        self.width, self.depth, self.hops = width, depth, hops
        self.w_data = Signal(width)
        self.w_en = Signal()
        self.r_data = Signal(width)
        self.r_rdy = Signal()
        self.r_en = Signal()

    @property
    def latency(self) -> int:
        return self.LATENCY + self.hops

    @property
    def buffer_places(self) -> int:
        """:attr:`BUFFER` ``+ 2 hops``: a place comes back ``2 hops`` cycles later."""
        return self.BUFFER + 2 * self.hops

    def elaborate(self, platform):
        m = Module()
        m.submodules.buffer = buffer = DistributedFIFO(width=self.width,
                                                       depth=self.buffer_places)
        # The consumer's handshake loads `popped` only, a register of its own (`keep`: the
        # consumer may register the same handshake), that frees the place a cycle later: the
        # consumer may sit across the die from the block RAM and the counter beside it (the
        # handshake's LUT, 3.4 ns of routing from the counter, limited the d=128, b=4 macro).
        popped = Signal(attrs={"keep": 1})
        issue = Signal()
        read = Signal()
        m.d.comb += [
            self.r_rdy.eq(buffer.r_rdy),
            self.r_data.eq(buffer.r_data),
            buffer.r_en.eq(self.r_en),
        ]
        m.d.sync += popped.eq(buffer.r_rdy & self.r_en)
        freed = popped
        for n in range(self.hops):
            freed = _hop(m, freed, f"freed_{n}")
        room = counter_below(m, issue, freed, self.buffer_places)
        # `available` (the RAM holds an entry not yet read) is a LUT of four registers, with no
        # count of the entries: whether the RAM held nothing, or at most one entry, the cycle
        # before (the pointers' flags) and the write and read of that cycle (`wrote`, `read`).
        # Nothing was read the cycle after the RAM held nothing.
        wrote = Signal()
        available = Signal()
        produce, consume, at_most = _pointers(m, self.depth, self.w_en, issue, 2)
        m.d.sync += wrote.eq(self.w_en)
        m.d.comb += [available.eq(wrote | ~(at_most[0] | at_most[1] & read)),
                     issue.eq(available & room)]

        # Each slice: an asynchronous read port and an explicit register, which Yosys merges
        # into the block RAM's read register, then the output register. The read register
        # loads every cycle (the entry at `consume`; only an issued read's goes on, as
        # `arriving`), so no flag reaches the block RAM's clock enable (the flags' LUTs
        # beside the buffer were 1.9 ns of routing from it at one lane). A read at the
        # address being written returns anything (no_rw_check) and is not issued.
        outputs = []
        for lo in range(0, self.width, BLOCK_SLICE_BITS):
            hi = min(lo + BLOCK_SLICE_BITS, self.width)
            mem = memory.Memory(shape=hi - lo, depth=_entries(self.depth), init=[],
                                attrs={"no_rw_check": 1, "ram_style": "block"})
            m.submodules[f"storage_{lo // BLOCK_SLICE_BITS}"] = mem
            wr, rd = mem.write_port(), mem.read_port(domain="comb")
            ram_data = Signal(hi - lo, reset_less=True, name=f"ram_data_{lo // BLOCK_SLICE_BITS}")
            out_data = Signal(hi - lo, reset_less=True, name=f"out_data_{lo // BLOCK_SLICE_BITS}")
            m.d.comb += [wr.addr.eq(produce), wr.data.eq(self.w_data[lo:hi]), wr.en.eq(self.w_en),
                         rd.addr.eq(consume)]
            m.d.sync += [ram_data.eq(rd.data), out_data.eq(ram_data)]
            outputs.append(out_data)
        arriving = Signal()
        m.d.sync += [read.eq(issue), arriving.eq(read)]
        entry = Cat(outputs)
        for n in range(self.hops):
            arriving = _hop(m, arriving, f"arriving_{n}")
            entry = _hop(m, entry, f"entry_{n}", reset_less=True)
        m.d.comb += [buffer.w_en.eq(arriving), buffer.w_data.eq(entry)]
        return m


def _hop(m, value, name: str, reset_less: bool = False) -> Signal:
    """``value`` registered, under ``name``."""
    hop = Signal(value.shape(), name=name, reset_less=reset_less)
    m.d.sync += hop.eq(value)
    return hop


def fast_fifo(depth: int) -> type:
    """The FIFO class for ``depth`` entries on a fast path: :class:`DistributedFIFO` up to
    :data:`DISTRIBUTED_DEPTH`, else :class:`BlockFIFO` (its ``LATENCY`` is 5 cycles, not 2)."""
    return DistributedFIFO if depth <= DISTRIBUTED_DEPTH else BlockFIFO


class Folded:
    """The ``params``, ``lanes`` and ``beats`` of a block that takes ``lanes`` coordinates per
    cycle (its constructor calls :meth:`_fold`)."""

    def _fold(self, params, lanes) -> int:
        """Keep ``params`` (``TypeError`` unless a :class:`~axelram.golden.params.Params`) and
        ``lanes`` (:func:`check_lanes`); returns the lanes."""
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        self._params = params
        self._lanes = check_lanes(params, lanes)
        return self._lanes

    @property
    def params(self):
        return self._params

    @property
    def lanes(self) -> int:
        return self._lanes

    @property
    def beats(self) -> int:
        """Beats per vector, ``d / lanes``: the cycles between vectors at full rate."""
        return self._params.d // self._lanes


def counter_below(m, up, down, limit: int, copies=()) -> Signal:
    """A register that holds ``count < limit``, for a count that ``up`` and ``down`` (one bit
    each, the same cycle) move by +1 and -1 from 0, ``up`` only while the flag is high (a
    place taken only when one is free, so the count stays at most ``limit``); returns it.
    ``copies`` are ``(flag, up)`` pairs: a one-bit register of the caller's (``keep``, so that
    synthesis does not merge them) loaded with the flag's next value too, for loads placed
    apart, and the caller's copy of ``up`` (always equal to it) that this value is made of, so
    that each copy's logic is its own: one LUT of its ``up``'s inputs, ``down`` and the count's
    second bit. The count is then ``keep`` as well (else its flag's flip-flop merges into a
    copy).

    The free places, ``limit - count``, are counted in thermometer code (bit ``k`` set: more
    than ``k`` free; the flag is bit 0), so each bit's next value is a choice among itself and
    its two neighbours by ``up`` and ``down``: no handshake that drives them reaches an adder
    or a comparison (a handshake into a counter's adder and a comparison was the critical path
    of several credit counters; after the adder alone, the one-lane encoder's: 4.1 ns).
    ``limit`` flip-flops."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    free = Signal(limit, init=(1 << limit) - 1, attrs={"keep": 1} if copies else {})
    taken, freed = Cat(free[1:], Const(0, 1)), Cat(Const(1, 1), free[:-1])  # one less, one more
    m.d.sync += free.eq(Mux(up & ~down, taken, Mux(down & ~up, freed, free)))
    for flag, copy_up in copies:
        m.d.sync += flag.eq(Mux(copy_up & ~down, free[1] if limit > 1 else 0,
                                Mux(down & ~copy_up, 1, flag)))
    return free[0]


def check_lanes(params, lanes) -> int:
    """The lanes of a folded block: ``lanes`` if it is a power of two in ``1..d``, ``d`` for
    ``None`` (the fully parallel block); else ``TypeError`` or ``ValueError``."""
    if lanes is None:
        return params.d
    if not isinstance(lanes, int) or isinstance(lanes, bool):
        raise TypeError(f"lanes must be an integer, got {lanes!r}")
    if not (1 <= lanes <= params.d and lanes & (lanes - 1) == 0):
        raise ValueError(f"lanes must be a power of two in 1..{params.d} (d), got {lanes}")
    return lanes


def stall_pipeline(m, i, o, stages: int) -> Signal:
    """Connect the valid/ready of a ``stages``-deep pipeline from stream ``i`` to stream ``o``.

    Returns the advance condition, which is ``i.ready``: every pipeline register loads only
    while it is high. The pipeline moves when its last stage is empty or being accepted, so
    ``i.ready`` follows ``o.ready`` combinationally and ``o.valid`` comes from a register (it
    never waits for ``o.ready``). Latency ``stages`` cycles; throughput one transfer per cycle
    while ``o.ready`` is high.
    """
    chain = [i.valid, *(Signal(name=f"valid_{n}") for n in range(1, stages)), o.valid]
    m.d.comb += i.ready.eq(~o.valid | o.ready)
    with m.If(i.ready):
        m.d.sync += [later.eq(earlier) for earlier, later in zip(chain, chain[1:], strict=False)]
    return i.ready


def register(m, advance, value, shape=None) -> Signal:
    """A pipeline register of ``shape`` (``value``'s own by default) that loads ``value`` while
    ``advance`` is high."""
    reg = Signal(value.shape() if shape is None else shape)
    with m.If(advance):
        m.d.sync += reg.eq(value)
    return reg


def branch_count(count: int) -> int:
    """``ceil(sqrt(count))``: the branch registers that fan a register out to ``count`` copies,
    each branch loading ``count / branches`` of them."""
    return isqrt(count - 1) + 1


def copies(m, value, count: int, name: str, advance=1, *, reset_less=False,
           leaf=None) -> list[Signal]:
    """``count`` copies of ``value`` two cycles later (two pipeline stages that load while
    ``advance`` is high), for an enable or address that loads registers spread over the die:
    each copy drives only its part of them, and ``value`` loads ``ceil(sqrt(count))`` branch
    registers, each loading its share of the copies, so that no register drives flip-flops far
    apart (16 copies from one register left 4.5 ns of routing at d=128). With ``leaf``, copy
    ``n`` holds ``leaf(n, v)`` of the value ``v`` instead (a decode of its own, one LUT level
    between the two stages). Every register is ``keep`` (synthesis must not merge them),
    ``reset_less`` as asked, and named ``{name}_branch_{n}`` or ``{name}_{n}``."""
    leaf = leaf or (lambda n, v: v)
    branches = [Signal(value.shape(), name=f"{name}_branch_{n}", reset_less=reset_less,
                       attrs={"keep": 1}) for n in range(branch_count(count))]
    loads = [leaf(n, branches[n * len(branches) // count]) for n in range(count)]
    leaves = [Signal(Value.cast(load).shape(), name=f"{name}_{n}", reset_less=reset_less,
                     attrs={"keep": 1}) for n, load in enumerate(loads)]
    with m.If(advance):
        m.d.sync += [branch.eq(value) for branch in branches]
        m.d.sync += [copy.eq(load) for copy, load in zip(leaves, loads, strict=True)]
    return leaves


def delay(m, value, cycles: int, name: str) -> Signal:
    """``value`` as it was ``cycles`` cycles earlier, every cycle (no enable). A reset loses
    the value given in its cycle and leaves the next ``cycles`` delayed values undefined.

    Shorter than :data:`DELAY_MEMORY_CYCLES`: a chain of ``cycles`` registers
    (``{name}_{n}``). Longer: a register (``{name}_written``, so that the value's logic does
    not reach the memory's data pins: 3.7 ns of routing to a block RAM in the d=128 macro),
    then a memory of ``cycles`` entries rounded up to a power of two (LUT RAM up to 16
    entries, else block RAM in column slices of :data:`BLOCK_SLICE_BITS`, whose output
    registers the ECP5 flow folds), written at one counter and read at another ``cycles - 4``
    behind (two counters, no adder between them), then :data:`_DELAY_READ_STAGES` registers;
    the memories (``{name}_memory_{k}``) are not reset. A 63-cycle delay of 18 bits is then one
    block RAM, 36 flip-flops and two 6-bit counters, not 1,134 flip-flops: the delay-feedback
    stages of the one-lane d=128 rotator held 2,259, most of the key encoder's area.
    """
    if cycles < DELAY_MEMORY_CYCLES:
        for n in range(cycles):
            stage = Signal(value.shape(), name=f"{name}_{n}")
            m.d.sync += stage.eq(value)
            value = stage
        return value
    written = Signal(value.shape(), reset_less=True, name=f"{name}_written")
    m.d.sync += written.eq(value)
    entries = _entries(cycles)
    bits = (entries - 1).bit_length()
    write_at = Signal(bits, name=f"{name}_write_at")
    read_at = Signal(bits, init=(1 + _DELAY_READ_STAGES - cycles) % entries,
                     name=f"{name}_read_at")
    m.d.sync += [write_at.eq(write_at + 1), read_at.eq(read_at + 1)]
    block = entries > _DELAY_LUT_RAM_ENTRIES
    width = len(value)
    step = BLOCK_SLICE_BITS if block else width
    outputs = []
    for k, lo in enumerate(range(0, width, step)):
        hi = min(lo + step, width)
        mem = memory.Memory(shape=hi - lo, depth=entries, init=[],
                            attrs={"no_rw_check": 1,
                                   "ram_style": "block" if block else "distributed"})
        m.submodules[f"{name}_memory_{k}"] = mem
        wr, rd = mem.write_port(), mem.read_port(domain="comb")
        m.d.comb += [wr.addr.eq(write_at), wr.data.eq(written[lo:hi]), wr.en.eq(1),
                     rd.addr.eq(read_at)]
        data = rd.data
        for n in range(_DELAY_READ_STAGES):
            stage = Signal(hi - lo, reset_less=True, name=f"{name}_read_{k}_{n}")
            m.d.sync += stage.eq(data)
            data = stage
        outputs.append(data)
    delayed = Signal(value.shape(), name=f"{name}_delayed")
    m.d.comb += delayed.eq(Cat(outputs))
    return delayed
