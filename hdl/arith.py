"""Arithmetic helpers shared by the blocks: constant and variable multiplication, adder trees."""

from amaranth.hdl import Cat, Const, Mux

__all__ = ["csd", "const_mul", "shift_add_mul", "shift_add_depth", "tree_sum", "tree_depth",
           "add_carry", "wrap_increment"]


def add_carry(a, b, carry):
    """``a + b + carry`` for a one-bit ``carry``, as one carry chain with ``carry`` its carry
    in: the high bits of ``(a << 1 | carry) + (b << 1 | 1)``. (``a + b + carry`` written as it
    is becomes two adders, or a LUT level before one.) A counter's ``+ up - down`` is ``a``,
    ``down`` replicated (``-down``) and ``up``."""
    return (Cat(carry, a) + Cat(Const(1, 1), b))[1:]


def wrap_increment(counter, count: int):
    """``counter + 1``, or 0 after ``count - 1``: the next value of a counter modulo
    ``count``."""
    return Mux(counter == count - 1, 0, counter + 1)


def csd(constant: int) -> list[tuple[int, int]]:
    """Canonical signed-digit form of ``constant``: ``[(shift, +1 or -1), ...]``, fewest digits.

    ``constant == sum(sign << shift)``; no two digits are adjacent, so an n-bit constant needs at
    most ``n // 2 + 1`` terms.
    """
    digits, shift = [], 0
    while constant:
        if constant & 1:
            sign = 2 - (constant & 3)  # +1 if the low bits are ...01, -1 if ...11
            digits.append((shift, sign))
            constant -= sign
        constant >>= 1
        shift += 1
    return digits


def tree_sum(values, stage=None, drop: int = 0, negative=None):
    """Balanced binary sum of Amaranth values, shifted right by ``drop`` bits; 0 for no values.

    Combinational, or pipelined when ``stage`` is given: ``stage(value)`` returns a register
    loaded with ``value``, and every level of the tree is registered (``tree_depth`` levels);
    the last one keeps only the bits above ``drop``.

    ``negative`` (one bool per value) marks the values to subtract. The adder that meets one is
    a subtractor (no costlier); two negative values make a negative partial sum, negated only
    at the root if every value is negative.
    """
    values = list(values)
    negative = [False] * len(values) if negative is None else list(negative)
    if len(negative) != len(values):
        raise ValueError(f"{len(values)} values but {len(negative)} negative flags")
    if not values:
        return Const(0)
    if len(values) == 1:
        return (-values[0] if negative[0] else values[0]) >> drop
    while len(values) > 1:
        sums, signs = [], []
        for (a, a_neg), (b, b_neg) in zip(zip(values[0::2], negative[0::2], strict=False),
                                          zip(values[1::2], negative[1::2], strict=False),
                                          strict=False):
            if a_neg and not b_neg:
                a, b, a_neg, b_neg = b, a, b_neg, a_neg
            sums.append(a - b if b_neg and not a_neg else a + b)
            signs.append(a_neg)
        values = sums + values[len(values) & ~1 :]
        negative = signs + negative[len(negative) & ~1 :]
        if len(values) == 1:
            values = [(-values[0] if negative[0] else values[0]) >> drop]
            negative = [False]
        if stage is not None:
            values = [stage(value) for value in values]
    return values[0]


def tree_depth(count: int) -> int:
    """Levels of a balanced binary tree over ``count`` values."""
    return max(count - 1, 0).bit_length()


def const_mul(x, constant: int, stage=None, drop: int = 0):
    """``(x * constant) >> drop`` as shifts and adds of its CSD digits: no multiplier is
    inferred.

    Pipelined when ``stage`` is given (see :func:`tree_sum`): the terms are registered, then
    every level of their sum, ``1 + tree_depth(len(csd(constant)))`` registers in all; no
    register holds the ``drop`` bits that are shifted out. A negative digit's term is registered
    as it is and subtracted by the tree (no negation in front of the term register: its carry
    chain, from an input that may come from afar, was a critical path).
    """
    digits = csd(constant)
    terms = [x << shift for shift, _ in digits]
    negative = [sign < 0 for _, sign in digits]
    if len(terms) == 1:
        terms, negative, drop = [(-terms[0] if negative[0] else terms[0]) >> drop], [False], 0
    if stage is not None:
        terms = [stage(term) for term in terms]
    return tree_sum(terms, stage, drop, negative)


def shift_add_mul(x, y, stage):
    """``x * y`` for an unsigned ``y``, pipelined in fabric: no hard multiplier is inferred.

    The partial products ``x << k`` selected by the bits of ``y`` are registered, then every level
    of their sum (:func:`tree_sum`): :func:`shift_add_depth` registers in all, each stage one
    AND or one adder. A DSP multiplier that Yosys infers has no pipeline registers inside (ECP5
    MULT18X18D: 3.9 ns from input to output), so a wide product through it caps the clock near
    100 MHz; this form runs at the speed of one adder per cycle.
    """
    terms = [stage(Mux(y[k], x << k, 0)) for k in range(len(y))]
    return tree_sum(terms, stage)


def shift_add_depth(width: int) -> int:
    """Registers of :func:`shift_add_mul` for a ``width``-bit ``y``."""
    return 1 + tree_depth(width)
