"""bench/logic_depth.py's delay model on hand-made netlists: two LUT levels, a slice's mux, a
carry chain and a reset pin, each estimate worked out from the model's constants."""

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "bench" / "logic_depth.py"
_SPEC = importlib.util.spec_from_file_location("logic_depth", _PATH)
logic_depth = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(logic_depth)

_DIRECTIONS = {
    "TRELLIS_FF": {"CLK": "input", "DI": "input", "LSR": "input", "Q": "output"},
    "LUT4": {"A": "input", "B": "input", "C": "input", "D": "input", "Z": "output"},
    "PFUMX": {"ALUT": "input", "BLUT": "input", "C0": "input", "Z": "output"},
    "CCU2C": {"A0": "input", "A1": "input", "CIN": "input", "S0": "output", "S1": "output",
              "COUT": "output"},
}


def _netlist(cells):
    """A top module of ``cells``: name -> (type, {pin: net bit})."""
    return {"modules": {"top": {"attributes": {"top": 1}, "cells": {
        name: {"type": kind, "port_directions": _DIRECTIONS[kind],
               "connections": {pin: [bit] for pin, bit in pins.items()}}
        for name, (kind, pins) in cells.items()}}}}


def _estimate(cells, endpoint, hop=0.7):
    endpoints, trace = logic_depth.analyse(_netlist(cells), hop)
    return endpoints[endpoint][0], [cell for cell, _, _ in trace(*endpoints[endpoint][1])]


def test_two_lut_levels():
    at, path = _estimate({
        "src": ("TRELLIS_FF", {"CLK": 1, "Q": 2}),
        "a": ("LUT4", {"A": 2, "Z": 3}),
        "b": ("LUT4", {"B": 3, "C": 2, "Z": 4}),
        "dst": ("TRELLIS_FF", {"CLK": 1, "DI": 4}),
    }, "dst.DI")
    assert at == pytest.approx(0.52 + 3 * 0.7 + 2 * 0.24)
    assert path == ["src", "a", "b", "dst"]


def test_slice_mux_and_reset_pin():
    """A LUT into a PFUMX's LUT input is inside the slice (no net delay); its select is a net;
    a flip-flop's reset pin adds its setup."""
    at, _ = _estimate({
        "src": ("TRELLIS_FF", {"CLK": 1, "Q": 2}),
        "lut": ("LUT4", {"A": 2, "Z": 3}),
        "mux": ("PFUMX", {"ALUT": 3, "C0": 2, "Z": 4}),
        "dst": ("TRELLIS_FF", {"CLK": 1, "LSR": 4}),
    }, "dst.LSR")
    assert at == pytest.approx(0.52 + 0.7 + 0.24 + 0.26 + 0.7 + 0.42)


def test_carry_chain():
    """Into a carry cell, along the chain (no net delay) and out of the second cell's sum."""
    at, path = _estimate({
        "src": ("TRELLIS_FF", {"CLK": 1, "Q": 2}),
        "c0": ("CCU2C", {"A0": 2, "A1": 2, "COUT": 3, "S0": 5, "S1": 6}),
        "c1": ("CCU2C", {"A0": 2, "CIN": 3, "S0": 4, "COUT": 7}),
        "dst": ("TRELLIS_FF", {"CLK": 1, "DI": 4}),
    }, "dst.DI")
    assert at == pytest.approx(0.52 + 0.7 + 0.40 + 0.30 + 0.7)
    assert path == ["src", "c0", "c1", "dst"]
