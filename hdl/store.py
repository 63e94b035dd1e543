"""The index store: one packed row per key in block RAM, appended in order, read by address."""

from functools import partial

from amaranth.hdl import Array, Cat, Module, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .pipeline import branch_count, copies, register

__all__ = ["IndexStore", "BANK_ROWS", "SLICE_BITS", "DEEP_SLICE_BITS"]

#: Rows per memory bank: the ECP5 block RAM shape DP16KD 4096 x 4, so that a row bit of a store
#: up to 4096 rows deep lives in one block RAM, with no multiplexer joining two of them.
BANK_ROWS = 4096

#: Row bits per column slice (one memory, with its own registered copies of the addresses and
#: enables) in banks of at most 2048 rows: at most four block RAMs (2048 x 9; 1024 x 18 and
#: 512 x 36 shallower, as Yosys picks).
SLICE_BITS = 36

#: Row bits per column slice in deeper banks: one 4096 x 4 block RAM. The placer scatters the
#: block RAMs of one slice over the die (at d=128, T=4096 four of them 54 columns apart), so
#: each has its own copies of the addresses and enables beside it.
DEEP_SLICE_BITS = 4

#: Registers between the block RAMs' output registers and ``read_data`` in banks deeper than
#: 2048 rows (with several banks the first is a register per bank, the second the bank
#: multiplexer's): hops that carry the row from the block RAM rows to the score's lookups,
#: which spread over the die at d=128.
_ROW_HOPS = 4


class IndexStore(wiring.Component):
    """``depth`` rows of ``row_width`` bits (:func:`axelram.golden.fixed.pack_rows`), in order.

    Writes append: a transfer on ``w`` stores its row at address ``count`` and increments
    ``count``; one row per cycle. When the store is full (``count == depth``) ``w.ready`` is low,
    so an offered row waits and nothing is overwritten; ``w.ready`` is also low in a ``clear``
    cycle. ``clear`` (or reset) empties the store: ``count`` returns to 0, the contents stay in
    the RAM and are overwritten by the next writes.

    The rows are kept in :attr:`banks` banks of :data:`BANK_ROWS` rows (the last one may be
    shorter), each cut into column slices of :attr:`slice_bits`, one memory per slice with its
    own registered copies of the addresses and enables, and behind two registers: the RAM's own
    read register and an output register that the FPGA flow folds into the block RAM (ECP5
    ``REGMODE = OUTREG``).

    Reads: latency :attr:`read_latency` = 5 cycles (9 with more than 2048 rows: four register
    hops to ``read_data``; with several banks the first is a register per bank, the second the
    bank multiplexer's), throughput one row per cycle. The row at ``read_addr`` in a cycle
    with ``read_en`` high appears on ``read_data`` ``read_latency`` cycles later and stays
    there until the next read's row replaces it; ``read_addr`` is ignored while ``read_en`` is low.
    The read enable and address reach the RAMs through three registers (trunk, branch, the
    slice's copy), the write through four (the handshake's, trunk, branch, copy), so a row
    transferred in cycle ``t`` is written to the RAM in cycle ``t + 4`` and reads back as
    written for any ``read_addr`` given from cycle ``t + 2`` on, whatever is written meanwhile.
    Any other address returns whatever the RAM holds; so does the only possible read/write
    collision, a read of the row being transferred, given in cycle ``t + 1`` or before: the
    Verilog simulates the previous contents, block RAM mapped by Yosys may return anything (the
    memory carries ``no_rw_check``).

    Parameters
    ----------
    params : Params
        ``depth`` and ``row_width`` are used.

    Members
    -------
    w : In(stream.Signature(unsigned(row_width)))
        Rows to append.
    clear : In(1)
        A one-cycle pulse empties the store.
    count : Out(range(depth + 1))
        Rows stored.
    full : Out(1)
        ``count == depth``.
    empty : Out(1)
        ``count == 0``.
    single : Out(1)
        ``count == 1``.
    read_addr : In(range(depth))
    read_en : In(1)
    read_data : Out(unsigned(row_width))
    """

    def __init__(self, params: Params):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        self._params = params
        super().__init__({
            "w": In(stream.Signature(unsigned(params.row_width))),
            "clear": In(1),
            "count": Out(range(params.depth + 1)),
            "full": Out(1),
            "empty": Out(1, init=1),
            "single": Out(1),
            "read_addr": In(range(params.depth)),
            "read_en": In(1),
            "read_data": Out(unsigned(params.row_width)),
        })

    @property
    def params(self) -> Params:
        return self._params

    @property
    def read_latency(self) -> int:
        """5 cycles (the address's three registers, RAM, output register), 9 with more than
        2048 rows."""
        return 5 + _ROW_HOPS * self._deep

    @property
    def _deep(self) -> bool:
        """Banks of more than 2048 rows, in 4096 x 4 block RAMs."""
        return min(BANK_ROWS, self._params.depth) > 2048

    @property
    def slice_bits(self) -> int:
        """Row bits per column slice: :data:`DEEP_SLICE_BITS` in banks of more than 2048 rows,
        else :data:`SLICE_BITS`."""
        return DEEP_SLICE_BITS if self._deep else SLICE_BITS

    @property
    def banks(self) -> int:
        """Memories of at most :data:`BANK_ROWS` rows that hold the ``depth`` rows."""
        return -(-self._params.depth // BANK_ROWS)

    def elaborate(self, platform):
        p = self._params
        m = Module()
        write = Signal()
        m.d.comb += [
            self.w.ready.eq(~self.full & ~self.clear),
            write.eq(self.w.valid & self.w.ready),
        ]
        # `full`, `empty` and `single` are registers beside `count`: the write enables of every
        # block RAM depend on `full`, and the macro starts a query's reads from `empty` and
        # `single` (its comparisons of `count` there were 5.2 ns in the d=128 macro).
        with m.If(self.clear):
            m.d.sync += [self.count.eq(0), self.full.eq(0), self.empty.eq(1), self.single.eq(0)]
        with m.Elif(write):
            m.d.sync += [self.count.eq(self.count + 1), self.full.eq(self.count == p.depth - 1),
                         self.empty.eq(0), self.single.eq(self.empty)]

        # Each bank is cut into column slices, one memory each, with its own copies of the write
        # enable and address and of the read enable and address: one copy drives the address
        # pins of one 4096 x 4 block RAM, or of at most four shallower ones (the 90 block RAMs
        # of d=128, T=4096 on one address register left 4.5 ns of routing; with four 2048 x 9
        # block RAMs a copy, which the placer scattered, 5.9 ns). The copies are `keep`, so
        # that synthesis does not merge them (gen/synth.py), and each is loaded from one of
        # ceil(sqrt(slices)) branches, each loaded from one of ceil(sqrt(branches)) trunks
        # (`_fan_out`): with two levels the read enable into the branches and a branch into its
        # copies crossed the die (4.9 ns of routing). The write's handshake loads one enable
        # flip-flop, which loads the trunks (the handshake into copies spread over the die took
        # 7.6 ns of routing); its row takes as many registers.
        # Each slice: the block RAM's own read register, then an output register, which
        # nothing else drives or loads, so that the FPGA flow can fold it into the block RAM's
        # output register (gen/fpga.py; a registered read ran at 367 MHz on ECP5, the
        # unregistered RAM output limits a path to about 130 MHz). The read port is
        # asynchronous with an explicit register behind it, so that Yosys' memory_dff merges
        # them and applies no_rw_check: a read colliding with a write may return anything (only
        # a row not yet stored can collide), so no read-before-write emulation (a second copy of
        # the write data and a bypass mux) is built around the RAM. With several banks the
        # banks' slices lie in block RAM rows across the die and the score's lookups spread
        # over it, so with more than 2048 rows the row takes four register hops to them (with
        # several banks: a register per bank, placed near its block RAMs, the registered
        # multiplexer that picks the addressed bank's row, and two registers behind it). With
        # fewer hops one of them crossed the die (at d=128, T=4096: block RAM to multiplexer
        # 4.9 ns of routing, the last register to a lookup 4.4 ns with three hops). A 4096-row
        # bank needs no multiplexer: two 2048-row banks joined by one had a block RAM's output
        # wired to its bank register 54 columns away (5.6 ns).
        # No read register is reset:
        # read_data means something only read_latency cycles after read_en.
        shift = (BANK_ROWS - 1).bit_length()
        written = Signal()
        address = Signal(range(p.depth), reset_less=True)
        data = Signal(p.row_width, reset_less=True)
        m.d.sync += [written.eq(write), address.eq(self.count), data.eq(self.w.payload)]
        slice_bits = self.slice_bits
        per_bank = -(-p.row_width // slice_bits)
        slices = self.banks * per_bank
        rows = min(BANK_ROWS, p.depth)
        branches = _fan_out(m, self.read_en, self.read_addr[:shift], slices, "read")
        wbranches = _fan_out(m, written, address, slices, "write")
        wdata = data
        for n in range(2):
            stage = Signal(p.row_width, reset_less=True, name=f"wdata_{n}")
            m.d.sync += stage.eq(wdata)
            wdata = stage
        outputs = []
        for k in range(self.banks):
            bank_data = []
            for lo in range(0, p.row_width, slice_bits):
                hi = min(lo + slice_bits, p.row_width)
                name = f"{k}_{lo // slice_bits}"
                n = (k * per_bank + lo // slice_bits) * len(branches) // slices
                (branch_en, branch_addr), (wb_en, wb_addr) = branches[n], wbranches[n]
                mem = memory.Memory(shape=hi - lo, depth=min(BANK_ROWS, p.depth - k * BANK_ROWS),
                                    init=[],
                                    attrs={"no_rw_check": 1})
                m.submodules[f"bank_{name}"] = mem
                wr = mem.write_port()
                rd = mem.read_port(domain="comb")
                copy = partial(Signal, attrs={"keep": 1})
                write_en, read_en = copy(name=f"write_en_{name}"), copy(name=f"read_en_{name}")
                write_addr = copy(range(rows), reset_less=True, name=f"write_addr_{name}")
                read_addr = copy(range(rows), reset_less=True, name=f"read_addr_{name}")
                write_data = Signal(hi - lo, reset_less=True, name=f"write_data_{name}")
                ram_data = Signal(hi - lo, reset_less=True, name=f"ram_data_{name}")
                out_data = Signal(hi - lo, reset_less=True, name=f"out_data_{name}")
                m.d.sync += [
                    write_en.eq(wb_en & (wb_addr >> shift == k)),
                    write_addr.eq(wb_addr),
                    write_data.eq(wdata[lo:hi]),
                    read_en.eq(branch_en),
                    read_addr.eq(branch_addr),
                    out_data.eq(ram_data),
                ]
                with m.If(read_en):
                    m.d.sync += ram_data.eq(rd.data)
                m.d.comb += [
                    wr.addr.eq(write_addr),
                    wr.data.eq(write_data),
                    wr.en.eq(write_en),
                    rd.addr.eq(read_addr),
                ]
                bank_data.append(out_data)
            outputs.append(Cat(bank_data))
        row, hops = outputs[0], _ROW_HOPS * self._deep
        if self.banks > 1:
            bank = register(m, self.read_en, self.read_addr >> shift)
            for _ in range(5):
                bank = register(m, 1, bank)
            nearby = []
            for k, output in enumerate(outputs):
                nearby.append(Signal(p.row_width, reset_less=True, name=f"nearby_{k}"))
                m.d.sync += nearby[-1].eq(output)
            row, hops = Array(nearby)[bank], hops - 1
        for n in range(hops):
            hop = Signal(p.row_width, reset_less=True, name=f"row_{n}")
            m.d.sync += hop.eq(row)
            row = hop
        m.d.comb += self.read_data.eq(row)
        return m


def _fan_out(m, enable, address, slices: int, name: str) -> list[tuple[Signal, Signal]]:
    """``ceil(sqrt(slices))`` registered copies of ``enable`` and ``address`` two cycles later
    (:func:`~axelram.hdl.pipeline.copies`: trunks ``{name}_en_branch_{n}`` and
    ``{name}_addr_branch_{n}``, then branches ``{name}_en_{n}`` and ``{name}_addr_{n}``), each to
    be registered once more beside its share of the ``slices`` memories."""
    branches = branch_count(slices)
    return list(zip(copies(m, enable, branches, f"{name}_en"),
                    copies(m, address, branches, f"{name}_addr", reset_less=True), strict=True))
