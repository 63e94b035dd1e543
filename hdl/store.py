"""The index store: one packed row per key in block RAM, appended in order, read by address."""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params

__all__ = ["IndexStore"]


class IndexStore(wiring.Component):
    """``depth`` rows of ``row_width`` bits (:func:`axelram.golden.fixed.pack_rows`), in order.

    Writes append: a transfer on ``w`` stores its row at address ``count`` and increments
    ``count``; one row per cycle. When the store is full (``count == depth``) ``w.ready`` is low,
    so an offered row waits and nothing is overwritten; ``w.ready`` is also low in a ``clear``
    cycle. ``clear`` (or reset) empties the store: ``count`` returns to 0, the contents stay in
    the RAM and are overwritten by the next writes.

    Reads: latency :attr:`read_latency` = 2 cycles, throughput one row per cycle. The row at
    ``read_addr`` in a cycle with ``read_en`` high appears on ``read_data`` two cycles later and
    stays there until the next read's row replaces it; ``read_addr`` is ignored while ``read_en``
    is low. A stored row (address below ``count``) reads back as written from the cycle after its
    transfer on, whatever is written meanwhile. Any other address returns whatever the RAM holds;
    so does the only possible read/write collision, a read of address ``count`` in the cycle
    that writes it: the Verilog simulates the previous contents, block RAM mapped by Yosys may
    return anything (the memory carries ``no_rw_check``).

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
            "read_addr": In(range(params.depth)),
            "read_en": In(1),
            "read_data": Out(unsigned(params.row_width)),
        })

    @property
    def params(self) -> Params:
        return self._params

    @property
    def read_latency(self) -> int:
        return 2

    def elaborate(self, platform):
        p = self._params
        m = Module()
        m.submodules.memory = mem = memory.Memory(shape=p.row_width, depth=p.depth, init=[],
                                                   attrs={"no_rw_check": 1})

        wr = mem.write_port()
        write = Signal()
        m.d.comb += [
            self.full.eq(self.count == p.depth),
            self.w.ready.eq(~self.full & ~self.clear),
            write.eq(self.w.valid & self.w.ready),
            wr.addr.eq(self.count),
            wr.data.eq(self.w.payload),
            wr.en.eq(write),
        ]
        with m.If(self.clear):
            m.d.sync += self.count.eq(0)
        with m.Elif(write):
            m.d.sync += self.count.eq(self.count + 1)

        # The block RAM's own read register, then one more: the unregistered RAM output limited
        # the score datapath to 131 MHz on ECP5, a registered read ran at 367 MHz. The read port
        # is asynchronous with an explicit register behind it, so that Yosys' memory_dff merges
        # them and applies no_rw_check: a read colliding with a write may return anything (only
        # a row not yet stored can collide), so no read-before-write emulation (a second copy of
        # the write data and a bypass mux) is built around the RAM. Neither register is reset:
        # read_data means something only read_latency cycles after read_en.
        rd = mem.read_port(domain="comb")
        ram_data = Signal(p.row_width, reset_less=True)
        out_data = Signal(p.row_width, reset_less=True)
        m.d.comb += [
            rd.addr.eq(self.read_addr),
            self.read_data.eq(out_data),
        ]
        with m.If(self.read_en):
            m.d.sync += ram_data.eq(rd.data)
        m.d.sync += out_data.eq(ram_data)
        return m
