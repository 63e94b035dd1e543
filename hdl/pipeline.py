"""What the pipelined blocks share: one stall signal for the whole pipeline, and lanes."""

from amaranth.hdl import Signal

__all__ = ["stall_pipeline", "register", "check_lanes", "Folded"]


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


def register(m, advance, value, shape) -> Signal:
    """A pipeline register of ``shape`` that loads ``value`` while ``advance`` is high."""
    reg = Signal(shape)
    with m.If(advance):
        m.d.sync += reg.eq(value)
    return reg
