"""A pipeline of plain registers, to line up two paths of different latency."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .pipeline import stall_pipeline

__all__ = ["Delay"]


class Delay(wiring.Component):
    """The input stream, ``stages`` cycles later.

    Latency ``stages`` cycles, throughput one payload per cycle, the handshake of
    :func:`~axelram.hdl.pipeline.stall_pipeline`.

    Parameters
    ----------
    shape : ShapeLike
        The payload.
    stages : int
        At least 1.

    Members
    -------
    i : In(stream.Signature(shape))
    o : Out(stream.Signature(shape))
    """

    def __init__(self, shape, stages: int):
        if not isinstance(stages, int) or stages < 1:
            raise ValueError(f"stages must be a positive integer, got {stages!r}")
        self._stages = stages
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    @property
    def latency(self) -> int:
        return self._stages

    def elaborate(self, platform):
        m = Module()
        advance = stall_pipeline(m, self.i, self.o, self._stages)
        value = self.i.payload
        for n in range(self._stages):
            stage = Signal.like(self.i.payload, name=f"stage_{n}")
            with m.If(advance):
                m.d.sync += stage.eq(value)
            value = stage
        m.d.comb += self.o.payload.eq(value)
        return m
