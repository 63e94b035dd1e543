"""The handshake shared by the fully pipelined blocks: one stall signal for the whole pipeline."""

from amaranth.hdl import Signal

__all__ = ["stall_pipeline"]


def stall_pipeline(m, i, o, stages: int) -> Signal:
    """Connect the valid/ready of a ``stages``-deep pipeline from stream ``i`` to stream ``o``.

    Returns ``advance``: every pipeline register loads only while it is high. The pipeline moves
    when its last stage is empty or being accepted, so ``i.ready`` follows ``o.ready``
    combinationally and ``o.valid`` comes from a register (it never waits for ``o.ready``).
    Latency ``stages`` cycles; throughput one transfer per cycle while ``o.ready`` is high.
    """
    advance = Signal()
    valid = Signal(stages)
    m.d.comb += [
        advance.eq(~valid[-1] | o.ready),
        i.ready.eq(advance),
        o.valid.eq(valid[-1]),
    ]
    with m.If(advance):
        m.d.sync += valid.eq((valid << 1) | i.valid)
    return advance
