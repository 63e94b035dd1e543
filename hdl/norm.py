"""The norm unit: ``isqrt(sum(k**2) << 2*norm_frac)`` of a key, and its stored row field."""

from functools import partial

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .pipeline import register, stall_pipeline

__all__ = ["NormUnit"]


class NormUnit(wiring.Component):
    """The key norm ``N = isqrt(sum(k**2) << 2*norm_frac)`` and its row field, one key per cycle.

    Latency ``1 + log2(d) + norm_width`` cycles, plus one when ``norm_rounded``: a register
    after the squarers, one per adder-tree level, one per root bit, and one after the
    reduced-float encoder. Throughput one key per cycle. Matches
    :func:`axelram.golden.fixed.key_norm` and :func:`axelram.golden.fixed.encode_norm`.

    Operations: ``d`` squarers -- true multiplications (``in_width`` x ``in_width`` bits) that the
    paper's "zero multipliers" write path does not count --, ``d - 1`` adders, ``norm_width``
    subtractors for the square root and, when rounded, one ``norm_mantissa + 1``-bit incrementer.

    Parameters
    ----------
    params : Params
        ``d``, ``in_width``, ``norm_frac`` and ``norm_mantissa`` are used.

    Members
    -------
    i : In(stream.Signature(ArrayLayout(signed(in_width), d)))
        The key.
    o : Out(stream.Signature(StructLayout({"norm": unsigned(norm_width),
                                           "field": unsigned(norm_field_width)})))
        ``norm`` is ``N``; ``field`` is the row's norm field (``N`` itself, or
        ``m | e << norm_mantissa`` with ``N ~= m << e``).
    """

    def __init__(self, params: Params):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        self._params = params
        super().__init__({
            "i": In(stream.Signature(data.ArrayLayout(signed(params.in_width), params.d))),
            "o": Out(stream.Signature(data.StructLayout({
                "norm": unsigned(params.norm_width),
                "field": unsigned(params.norm_field_width),
            }))),
        })

    @property
    def params(self) -> Params:
        return self._params

    @property
    def latency(self) -> int:
        p = self._params
        return 1 + p.log2_d + p.norm_width + p.norm_rounded

    def elaborate(self, platform):
        p = self._params
        m = Module()
        advance = stall_pipeline(m, self.i, self.o, self.latency)

        stage = partial(register, m, advance)

        # Squarers, then one adder-tree level per cycle (norm_sq_width at the root).
        values = [stage(k * k, p.norm_tree_width(0)) for k in self.i.payload]
        for level in range(1, p.log2_d + 1):
            values = [stage(a + b, p.norm_tree_width(level))
                      for a, b in zip(values[0::2], values[1::2], strict=True)]
        norm_sq, = values

        # Digit-by-digit square root of the 2W-bit radicand (W = norm_width: N < 2**W, so the
        # radicand is below 2**2W), one root bit per cycle from the top: step i brings down two
        # radicand bits, R = R << 2 | n[2i+1:2i], and sets the bit when R >= 4Q + 1 (Q the root so
        # far), then R -= 4Q + 1. Each stage is one narrow subtractor, the same carry-chain depth
        # as an adder-tree level, and latency is free on the write path (once per key).
        # Invariant: R after step i is n - q**2 >> 2i < 2**(W - i + 1).
        width = p.norm_width
        radicand = Signal(2 * width)
        m.d.comb += radicand.eq(norm_sq << (2 * p.norm_frac))
        rem, root, rest = Const(0, 1), Const(0, 1), radicand
        for i in reversed(range(width)):
            trial = Cat(rest[2 * i:2 * i + 2], rem)
            diff = trial - Cat(Const(1, 2), root)
            fits = diff >= 0
            rem = stage(Mux(fits, diff, trial), width - i + 1)
            root = stage(Cat(fits, root), width - i)
            if i:
                rest = stage(rest[:2 * i], 2 * i)
        norm = root

        if not p.norm_rounded:
            m.d.comb += [self.o.payload.norm.eq(norm), self.o.payload.field.eq(norm)]
            return m

        # Reduced float, as golden float_encode: e0 = max(bit_length(N) - M, 0) by priority
        # (the highest set bit wins), t = N >> (e0 - 1) with M + 1 bits (2N when e0 = 0), the
        # mantissa (t + 1) >> 1 rounds to nearest with ties up; a carry into bit M renormalizes.
        mantissa = p.norm_mantissa
        e0 = Signal(range(width - mantissa + 1))
        t = Signal(mantissa + 1)
        m.d.comb += [e0.eq(0), t.eq(norm << 1)]
        for e in range(1, width - mantissa + 1):
            with m.If(norm[mantissa + e - 1]):
                m.d.comb += [e0.eq(e), t.eq(norm[e - 1:mantissa + e])]
        rounded = Signal(mantissa + 1)
        m.d.comb += rounded.eq((t + 1) >> 1)
        carry = rounded[mantissa]
        exponent = Signal(p.exponent_width)
        m.d.comb += exponent.eq(e0 + carry)
        field = Cat(Mux(carry, rounded >> 1, rounded)[:mantissa], exponent)
        m.d.comb += [
            self.o.payload.norm.eq(stage(norm, width)),
            self.o.payload.field.eq(stage(field, p.norm_field_width)),
        ]
        return m
