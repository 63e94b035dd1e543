"""The rotator: sign flip and a fully pipelined Walsh-Hadamard butterfly network."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .pipeline import stall_pipeline

__all__ = ["Rotator"]


class Rotator(wiring.Component):
    """``y = H_d diag(s) x``: exact integers, one vector per cycle.

    Latency ``log2(d)`` cycles (one register per butterfly stage; the sign flip is folded into
    the first stage); throughput one vector per cycle. ``log2(d) * d / 2`` butterflies, each an
    adder and a subtractor; stage ``k`` is ``params.fwht_width(k)`` bits wide, so nothing can
    overflow. Matches :func:`axelram.golden.fixed.rotate`.

    Parameters
    ----------
    params : Params
        ``d`` and ``in_width`` are used.

    Members
    -------
    signs : In(d)
        The sign vector: bit ``j`` set negates coordinate ``j``. Sampled with each input vector
        (drive it from a constant for a ROM; Yosys then removes the unused negations).
    i : In(stream.Signature(ArrayLayout(signed(in_width), d)))
    o : Out(stream.Signature(ArrayLayout(signed(rotated_width), d)))
    """

    def __init__(self, params: Params):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        self._params = params
        super().__init__({
            "signs": In(params.d),
            "i": In(stream.Signature(data.ArrayLayout(signed(params.in_width), params.d))),
            "o": Out(stream.Signature(data.ArrayLayout(signed(params.rotated_width), params.d))),
        })

    @property
    def params(self) -> Params:
        return self._params

    @property
    def latency(self) -> int:
        return self._params.log2_d

    def elaborate(self, platform):
        p = self._params
        m = Module()
        advance = stall_pipeline(m, self.i, self.o, self.latency)

        # The flip is a negation in front of the first stage's add/sub; later stages see
        # registered values only, one stage of carry chain per cycle.
        values = [Signal(signed(p.flip_width), name=f"flipped_{j}") for j in range(p.d)]
        for j, (value, x) in enumerate(zip(values, self.i.payload, strict=True)):
            m.d.comb += value.eq(x)
            with m.If(self.signs[j]):
                m.d.comb += value.eq(-x)

        for stage in range(1, p.log2_d + 1):
            h = 1 << (stage - 1)
            out = [Signal(signed(p.fwht_width(stage)), name=f"butterfly_{stage}_{j}")
                   for j in range(p.d)]
            for j in range(p.d):
                if j & h:
                    continue
                with m.If(advance):
                    m.d.sync += [
                        out[j].eq(values[j] + values[j + h]),
                        out[j + h].eq(values[j] - values[j + h]),
                    ]
            values = out

        for o, value in zip(self.o.payload, values, strict=True):
            m.d.comb += o.eq(value)
        return m
