"""What the pipelined blocks share: one stall signal for the whole pipeline, lanes, and a FIFO
in distributed RAM."""

from amaranth.hdl import Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import Out

__all__ = ["stall_pipeline", "register", "check_lanes", "Folded", "DistributedFIFO", "flow"]


def flow(shape) -> wiring.Signature:
    """A stream without backpressure: ``valid`` and ``payload``, and the receiver takes each
    payload in the cycle it is valid. (Amaranth 0.5 cannot emit a component port for an
    ``always_ready`` stream's constant ``ready``.)"""
    return wiring.Signature({"valid": Out(1), "payload": Out(shape)})


class DistributedFIFO(fifo.SyncFIFOBuffered):
    """:class:`~amaranth.lib.fifo.SyncFIFOBuffered` whose storage asks for distributed (LUT)
    RAM (Yosys ``ram_style = "distributed"``), with the read register in fabric.

    Yosys cannot use a block RAM's output register (ECP5 DP16KD ``REGMODE = OUTREG``) for an
    inferred memory, and the unregistered output takes 5.6 ns from the clock on the ECP5: that
    alone caps any path that starts at a block RAM near 150 MHz. A FIFO on a fast path therefore
    sits in LUT RAM, which costs LUTs (a ``depth x width`` FIFO: ``ceil(depth/16) * width/4``
    16x4 RAM cells and a read multiplexer).
    """

    def elaborate(self, platform):
        m = super().elaborate(platform)
        if self.depth > 1:
            m.submodules.storage.attrs["ram_style"] = "distributed"
        return m


class Folded:
    """The ``params``, ``lanes`` and ``beats`` of a block that takes ``lanes`` coordinates per
    cycle (its constructor sets ``_params`` and ``_lanes``)."""

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
