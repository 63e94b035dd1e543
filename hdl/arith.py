"""Arithmetic helpers shared by the blocks: constant multiplication and adder trees."""

from amaranth.hdl import Const

__all__ = ["csd", "const_mul", "tree_sum"]


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


def tree_sum(values):
    """Balanced binary sum of Amaranth values (combinational); 0 for no values."""
    values = list(values)
    if not values:
        return Const(0)
    while len(values) > 1:
        pairs = zip(values[0::2], values[1::2], strict=False)
        values = [a + b for a, b in pairs] + values[len(values) & ~1 :]
    return values[0]


def const_mul(x, constant: int):
    """``x * constant`` as shifts and adds of its CSD digits: no multiplier is inferred."""
    terms = [(x << shift) if sign > 0 else -(x << shift) for shift, sign in csd(constant)]
    return tree_sum(terms)
