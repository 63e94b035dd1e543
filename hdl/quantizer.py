"""The comparator quantizer: b-bit indices of a rotated key, packed with its norm into a row;
and the unit that turns the key's norm into the quantizer's thresholds."""

from functools import partial

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.params import Params
from .arith import csd, tree_depth, tree_sum
from .pipeline import Folded, copies, register, stall_pipeline

__all__ = ["ThresholdUnit", "Quantizer"]

#: Row bits loaded by one copy of the quantizer's last valid register.
ROW_ENABLE_BITS = 32


class ThresholdUnit(wiring.Component):
    """The quantizer thresholds of a key, ``theta_m = (boundaries_fixed[m] * N) >> compare_shift``
    for the ``2**(b-1) - 1`` positive boundaries, from its norm ``N``: one key per cycle.

    Each product by a design-time constant is a canonical-signed-digit shift-and-add (no
    multiplier) of terms ``N << s``, each split at bit ``D = compare_shift`` into its bits
    above, ``N >> (D - s)``, and below, ``(N mod 2**(D - s)) << s``: ``theta`` is the sum of
    the upper parts plus the sum of the lower parts shifted right by ``D`` (its carries), two
    trees of adders: the upper one modulo ``2**compare_width`` (``theta`` fits it), the lower
    one exact in ``D`` and a few bits. Pipelined: the norm is registered, then
    the terms, then every level of both trees, then the last sum, so a stage is one adder and
    none reads the producer's output directly (a FIFO's read multiplexer in the encoder).
    Latency :attr:`latency` ``= 3 + tree_depth(most CSD digits)`` cycles (the shorter trees are
    delayed to match; 1 when ``b = 1``, which has no threshold), throughput one key per cycle.
    Matches :func:`axelram.golden.fixed.thresholds`. The norm field passes through, delayed alike.

    Parameters
    ----------
    params : Params
        ``b``, the codebook, ``norm_frac`` and the widths are used.

    Members
    -------
    i : In(stream.Signature(StructLayout({"norm": unsigned(norm_width),
                                          "field": unsigned(norm_field_width)})))
        The :class:`~axelram.hdl.norm.NormUnit` output.
    o : Out(stream.Signature(StructLayout({
            "thresholds": ArrayLayout(unsigned(compare_width), half - 1),
            "field": unsigned(norm_field_width)})))
    """

    def __init__(self, params: Params):
        if not isinstance(params, Params):
            raise TypeError(f"params must be a Params, got {params!r}")
        self._params = params
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "norm": unsigned(params.norm_width),
                "field": unsigned(params.norm_field_width),
            }))),
            "o": Out(stream.Signature(data.StructLayout({
                "thresholds": data.ArrayLayout(unsigned(params.compare_width), params.half - 1),
                "field": unsigned(params.norm_field_width),
            }))),
        })

    @property
    def params(self) -> Params:
        return self._params

    @property
    def latency(self) -> int:
        if self._params.half == 1:
            return 1
        return 3 + max(tree_depth(len(csd(int(c)))) for c in self._params.boundaries_fixed)

    def elaborate(self, platform):
        p = self._params
        m = Module()
        advance = stall_pipeline(m, self.i, self.o, self.latency)

        def stage(value, shape=None):
            return register(m, advance, value, value.shape() if shape is None else shape)

        # The upper parts and their sums are kept modulo 2**compare_width (theta fits it, so
        # the bits above never reach it), the lower parts' sums exactly in as many bits as they
        # need: no carry chain is wider than a threshold or the lower parts' sum.
        upper_stage = partial(stage, shape=unsigned(p.compare_width))
        norm = stage(self.i.payload.norm)
        shift = p.compare_shift
        for theta, boundary in zip(self.o.payload.thresholds, p.boundaries_fixed, strict=True):
            digits = csd(int(boundary))
            upper = [upper_stage(norm << (s - shift) if s >= shift else norm >> (shift - s))
                     for s, _ in digits]
            lower = [stage(norm[:shift - s] << s, shift) for s, _ in digits if s < shift]
            lower_negative = [sign < 0 for s, sign in digits if s < shift]
            lower_stage = partial(stage, shape=signed(shift + len(lower).bit_length() + 1))
            depth = tree_depth(len(digits))
            delay = depth - tree_depth(len(lower))
            upper = tree_sum(upper, upper_stage, negative=[sign < 0 for _, sign in digits])
            lower = tree_sum(lower, lower_stage, negative=lower_negative)
            for _ in range(delay):
                lower = stage(lower)
            product = upper_stage(upper + (lower >> shift))
            for _ in range(self.latency - 3 - depth):
                product = stage(product)
            m.d.comb += theta.eq(product)
        field = self.i.payload.field
        for _ in range(self.latency):
            field = stage(field)
        m.d.comb += self.o.payload.field.eq(field)
        return m


class Quantizer(Folded, wiring.Component):
    """Index of every rotated coordinate against the norm-scaled boundaries, as one SRAM row.

    ``L = lanes`` coordinates per beat, ``d / L`` beats per key: beat ``k`` carries coordinates
    ``k*L .. k*L + L - 1`` (as :class:`~axelram.hdl.stream_rotator.StreamRotator` emits them)
    with the key's thresholds (from :class:`ThresholdUnit`) and norm field, which must be the
    same on every beat of a key. The beat's
    indices shift into the row register from the top, so after ``d / L`` beats index ``j`` sits
    in bits ``[j*b, (j+1)*b)``; the row is valid after the key's last beat. Beats are counted
    from reset.

    Latency 3 cycles (ones' complement magnitudes; the comparisons; their count into the row)
    from the transfer of a key's last beat to its row, 1 when ``b = 1``; throughput one beat
    per cycle, one key per ``d / L`` cycles.
    ``i.ready`` is low only while a finished row waits on ``o``. Matches
    :func:`axelram.golden.fixed.quantize` followed by :func:`axelram.golden.fixed.pack_rows`.

    No division: coordinate ``y`` lies above boundary ``t_m`` when ``|y| > theta_m`` with
    ``theta_m = (boundaries_fixed[m] * N) >> compare_shift`` (for an integer ``|y|`` the same as
    ``|y| << compare_shift > boundaries_fixed[m] * N``). The ``2**(b-1) - 1`` thresholds come
    once per key from :class:`ThresholdUnit` and are shared by all ``d`` coordinates. The
    codebook is symmetric, so each coordinate needs only ``2**(b-1) - 1`` magnitude
    comparators of ``compare_width + 1`` bits (each a subtraction's sign) and its sign,
    ``L * (2**(b-1) - 1)`` in all instead of
    the paper's ``d * (2**b - 1)``: 384 versus 896 for ``d = 128, b = 3`` and ``L = d``, 3 for
    ``L = 1``. ``b = 1`` has no comparator (the index is the sign). Registers: the row
    (``row_width`` bits) and, when ``b > 1``, a stage of ``L`` magnitudes, signs, thresholds
    and the field, then one of the ``L (2**(b-1) - 1)`` comparisons, signs and the field.

    Parameters
    ----------
    params : Params
        ``d``, ``b``, the codebook, ``in_width``, ``norm_frac`` and ``norm_mantissa`` are used.
    lanes : int or None
        ``L``, a power of two in ``1..d``; ``None`` is ``d`` (one beat per key).

    Members
    -------
    i : In(stream.Signature(StructLayout({
            "rotated": ArrayLayout(signed(rotated_width), L),
            "thresholds": ArrayLayout(unsigned(compare_width), half - 1),
            "field": unsigned(norm_field_width)})))
        A beat of the rotated key ``y``, the key's thresholds and the row's norm field.
    o : Out(stream.Signature(unsigned(row_width)))
        The row: index ``j`` in bits ``[j*b, (j+1)*b)``, the norm field above ``d*b``.
    """

    def __init__(self, params: Params, lanes: int | None = None):
        self._fold(params, lanes)
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "rotated": data.ArrayLayout(signed(params.rotated_width), self._lanes),
                "thresholds": data.ArrayLayout(unsigned(params.compare_width), params.half - 1),
                "field": unsigned(params.norm_field_width),
            }))),
            "o": Out(stream.Signature(unsigned(params.row_width))),
        })

    @property
    def latency(self) -> int:
        return 1 if self._params.half == 1 else 3

    def elaborate(self, platform):
        p, lanes = self._params, self._lanes
        m = Module()

        # The pipeline of stall_pipeline, except that the last stage (the row) becomes valid only
        # with a key's last beat: beats are counted as they enter (`last` flags the key's last,
        # a flag beside the counter) and the flag moves with its beat, so that `o.valid` loads
        # from a register of its own, not from the stage's valid (which loads the whole row).
        advance = Signal()
        beat = Signal(range(self.beats))
        last = Signal(init=self.beats == 1)
        lasts = [self.i.valid & last, *(Signal(name=f"last_{n}") for n in range(1, self.latency))]
        m.d.comb += [advance.eq(~self.o.valid | self.o.ready), self.i.ready.eq(advance)]
        with m.If(advance):
            m.d.sync += [
                [later.eq(earlier) for earlier, later in zip(lasts, lasts[1:], strict=False)],
                self.o.valid.eq(lasts[-1]),
            ]
            with m.If(self.i.valid):
                m.d.sync += [beat.eq(beat + 1),    # d/L is a power of two: it wraps
                             last.eq(Mux(last, self.beats == 1, beat == self.beats - 2))]
        # The valid of a beat's indices loads the row: a copy per ROW_ENABLE_BITS bits of it,
        # from copies of the first stage's (`copies`), so that no flip-flop drives the clock
        # enables of the whole row (one drove 116 of them, 4.7 ns of routing, in the d=128
        # macro; one drove the 12 copies, 4.7 ns).
        slices = range(0, p.d * p.b, ROW_ENABLE_BITS)
        if self.latency > 1:
            enables = copies(m, self.i.valid, len(slices), "row_enable", advance)
        else:
            enables = [self.i.valid] * len(slices)

        stage = partial(register, m, advance)

        y, field = self.i.payload.rotated, self.i.payload.field
        negative = [value < 0 for value in y]
        if p.half > 1:
            # First cycle: the ones' complement magnitudes (y, or ~y = |y| - 1 for a negative
            # y: no carry chain), beside the key's thresholds.
            thresholds = [stage(theta, p.compare_width) for theta in self.i.payload.thresholds]
            magnitudes = [stage(value ^ sign.replicate(len(value)), p.compare_width)
                          for value, sign in zip(y, negative, strict=True)]
            negative = [stage(value, 1) for value in negative]
            field = stage(field, p.norm_field_width)
            # Second cycle: each comparison |y| > theta, which is m > theta for the ones'
            # complement magnitude m of a non-negative y and m >= theta of a negative one, that
            # is 2 m + 1 > 2 theta: the sign of one subtraction, a carry chain alone from
            # registers to a register (Yosys maps a comparison to a tree of LUTs on the ECP5,
            # four levels for 11 bits). Third cycle: the thresholds ascend, so the comparisons
            # form a thermometer code, and c is its count (:func:`_thermometer_count`, a LUT of
            # the registered comparisons). Index half + c (non-negative) or half - 1 - c
            # (negative) is Cat(c, 1) with every bit inverted for a negative coordinate.
            codes = [[stage((Cat(0, theta) - Cat(sign, magnitude))[-1], 1)
                      for theta in thresholds]
                     for magnitude, sign in zip(magnitudes, negative, strict=True)]
            negative = [stage(value, 1) for value in negative]
            field = stage(field, p.norm_field_width)
            counts = [_thermometer_count(code, p.b - 1) for code in codes]
        else:
            counts = [Const(0, 0)] * lanes
        indices = Cat(*(Cat(count, Const(1, 1)) ^ sign.replicate(p.b)
                        for count, sign in zip(counts, negative, strict=True)))
        row = Signal(p.d * p.b)
        shifted = Cat(row[lanes * p.b:], indices)
        for lo, enable in zip(slices, enables, strict=True):
            with m.If(advance & enable):
                m.d.sync += row[lo:lo + ROW_ENABLE_BITS].eq(shifted[lo:lo + ROW_ENABLE_BITS])
        m.d.comb += self.o.payload.eq(Cat(row, stage(field, p.norm_field_width)))
        return m


def _thermometer_count(code, width: int):
    """The number of set bits of a thermometer ``code`` (bit ``i`` set only if every bit below
    it is), ``width`` bits: bit ``j`` is set when the count lies in ``[k 2**(j+1) + 2**j,
    (k+1) 2**(j+1))`` for some ``k``, an OR of ``code[lo - 1] & ~code[hi - 1]``, a LUT level or
    two where an adder tree over the bits took three."""
    def bit(i):
        return code[i] if i < len(code) else Const(0, 1)

    count = []
    for j in range(width):
        terms = [bit(lo - 1) & ~bit(lo + (1 << j) - 1)
                 for lo in range((1 << j), len(code) + 1, 1 << (j + 1))]
        count.append(Cat(*terms).any())
    return Cat(*count)
