"""The comparator quantizer: b-bit indices of a rotated key, packed with its norm into a row."""

from functools import partial

from amaranth.hdl import Cat, Const, Module, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .arith import const_mul, tree_sum
from .pipeline import register, stall_pipeline

__all__ = ["Quantizer"]


class Quantizer(wiring.Component):
    """Index of every rotated coordinate against the norm-scaled boundaries, as one SRAM row.

    Latency 2 cycles (thresholds and magnitudes, then comparators and row), 1 when ``b = 1``;
    throughput one key per cycle. Matches :func:`axelram.golden.fixed.quantize` followed by
    :func:`axelram.golden.fixed.pack_rows`.

    No division: coordinate ``y`` lies above boundary ``t_m`` when ``|y| > theta_m`` with
    ``theta_m = (boundaries_fixed[m] * N) >> compare_shift`` (for an integer ``|y|`` the same as
    ``|y| << compare_shift > boundaries_fixed[m] * N``). The ``2**(b-1) - 1`` thresholds are
    computed once per key by shift-and-add (no multiplier) and shared by all ``d`` coordinates.
    The codebook is symmetric, so each coordinate needs only ``2**(b-1) - 1`` magnitude
    comparators of ``compare_width`` bits and its sign, ``d * (2**(b-1) - 1)`` in all instead of
    the paper's ``d * (2**b - 1)``: 384 versus 896 for ``d = 128, b = 3``. ``b = 1`` has no
    comparator (the index is the sign).

    Parameters
    ----------
    params : Params
        ``d``, ``b``, the codebook, ``in_width``, ``norm_frac`` and ``norm_mantissa`` are used.

    Members
    -------
    i : In(stream.Signature(StructLayout({"rotated": ArrayLayout(signed(rotated_width), d),
                                          "norm": unsigned(norm_width),
                                          "field": unsigned(norm_field_width)})))
        The rotated key ``y``, its norm ``N`` and the row's norm field.
    o : Out(stream.Signature(unsigned(row_width)))
        The row: index ``j`` in bits ``[j*b, (j+1)*b)``, the norm field above ``d*b``.
    """

    def __init__(self, params: Params):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        self._params = params
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "rotated": data.ArrayLayout(signed(params.rotated_width), params.d),
                "norm": unsigned(params.norm_width),
                "field": unsigned(params.norm_field_width),
            }))),
            "o": Out(stream.Signature(unsigned(params.row_width))),
        })

    @property
    def params(self) -> Params:
        return self._params

    @property
    def latency(self) -> int:
        return 1 if self._params.half == 1 else 2

    def elaborate(self, platform):
        p = self._params
        m = Module()
        advance = stall_pipeline(m, self.i, self.o, self.latency)

        stage = partial(register, m, advance)

        y, field = self.i.payload.rotated, self.i.payload.field
        negative = [value < 0 for value in y]
        if p.half > 1:
            # First cycle: the shared thresholds (each a CSD adder tree) beside the magnitudes.
            thresholds = [
                stage(const_mul(self.i.payload.norm, int(boundary)) >> p.compare_shift,
                      p.compare_width)
                for boundary in p.boundaries_fixed
            ]
            magnitudes = [stage(abs(value), p.compare_width) for value in y]
            negative = [stage(value, 1) for value in negative]
            field = stage(field, p.norm_field_width)
            # Second cycle: the thresholds ascend, so the comparisons form a thermometer code and
            # c is their count. Index half + c (non-negative) or half - 1 - c (negative) is
            # Cat(c, 1) with every bit inverted for a negative coordinate.
            counts = [
                tree_sum(magnitude > theta for theta in thresholds)[:p.b - 1]
                for magnitude in magnitudes
            ]
        else:
            counts = [Const(0, 0)] * p.d
        indices = [Cat(count, Const(1, 1)) ^ sign.replicate(p.b)
                   for count, sign in zip(counts, negative, strict=True)]
        row = Cat(*indices, field)
        m.d.comb += self.o.payload.eq(stage(row, p.row_width))
        return m
