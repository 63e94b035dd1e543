"""Arithmetic helpers shared by the blocks: constant multiplication and adder trees."""

from amaranth.hdl import Const

__all__ = ["csd", "const_mul", "tree_sum", "tree_depth"]


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


def tree_sum(values, stage=None):
    """Balanced binary sum of Amaranth values; 0 for no values.

    Combinational, or pipelined when ``stage`` is given: ``stage(value)`` returns a register
    loaded with ``value``, and every level of the tree is registered (``tree_depth`` levels).
    """
    values = list(values)
    if not values:
        return Const(0)
    while len(values) > 1:
        pairs = zip(values[0::2], values[1::2], strict=False)
        values = [a + b for a, b in pairs] + values[len(values) & ~1 :]
        if stage is not None:
            values = [stage(value) for value in values]
    return values[0]


def tree_depth(count: int) -> int:
    """Levels of a balanced binary tree over ``count`` values."""
    return max(count - 1, 0).bit_length()


def const_mul(x, constant: int, stage=None):
    """``x * constant`` as shifts and adds of its CSD digits: no multiplier is inferred.

    Pipelined when ``stage`` is given (see :func:`tree_sum`): the terms are registered, then
    every level of their sum, ``1 + tree_depth(len(csd(constant)))`` registers in all.
    """
    terms = [(x << shift) if sign > 0 else -(x << shift) for shift, sign in csd(constant)]
    if stage is not None:
        terms = [stage(term) for term in terms]
    return tree_sum(terms, stage)
