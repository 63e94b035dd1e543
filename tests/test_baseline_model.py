# amaranth: UnusedElaboratable=no
"""The conventional baseline's model and widths, and its component's arguments."""

import itertools

import numpy as np
import pytest
from amaranth.hdl import signed
from amaranth.lib import data

from axelram.golden.baseline import baseline_score_width, baseline_scores
from axelram.golden.params import Params, signed_width
from axelram.hdl.baseline import ConventionalMacro


def _all_params():
    """Every legal (d, in_width) with the other parameters at their defaults."""
    for w, k in itertools.product(range(2, 33), range(1, 11)):
        try:
            yield Params(d=1 << k, in_width=w, norm_frac=0)
        except ValueError:
            continue


def test_width_is_exact_and_tight():
    """``2w + log2 d`` bits; the largest sum, ``d (-2**(w-1))**2``, needs the last of them."""
    checked = 0
    for p in _all_params():
        try:
            width = baseline_score_width(p)
        except ValueError:
            continue
        checked += 1
        assert width == 2 * p.in_width + p.log2_d, p
        largest, smallest = p.d * p.in_min ** 2, p.d * p.in_min * p.in_max
        assert largest <= (1 << (width - 1)) - 1 and smallest >= -(1 << (width - 1)), p
        assert largest > (1 << (width - 2)) - 1, p  # one bit fewer overflows
        assert baseline_score_width(p, 1) == 2 * p.in_width, p
    assert checked > 200


@pytest.mark.parametrize(("d", "in_width"), [(2, 2), (2, 3), (4, 2)])
def test_width_by_enumeration(d, in_width):
    """Every pair of vectors of a tiny configuration: the extremes of ``q . k`` set the width."""
    p = Params(d=d, in_width=in_width)
    values = range(p.in_min, p.in_max + 1)
    vectors = np.array(list(itertools.product(values, repeat=d)), dtype=np.int64)
    dots = baseline_scores(vectors, vectors, p)
    assert baseline_score_width(p) == signed_width(dots.min(), dots.max())


def test_width_limit():
    """63 bits is the most the int64 model holds: in_width=31 reaches it at d=2 and exceeds it
    at d=4 (a configuration the macro itself accepts)."""
    assert baseline_score_width(Params(d=2, in_width=31, norm_frac=0)) == 63
    p = Params(d=4, in_width=31, norm_frac=0)
    message = ("the conventional baseline at d=4, in_width=31 needs 64-bit sums; axelram "
               "supports values of at most 63 bits")
    for refuse in (baseline_score_width, ConventionalMacro,
                   lambda p: baseline_scores(np.zeros((1, 4)), np.zeros((1, 4)), p)):
        with pytest.raises(ValueError) as error:
            refuse(p)
        assert str(error.value) == message


def test_scores_exact_at_the_limit():
    """At 63 bits the int64 scores equal Python's unbounded integers, extremes included."""
    p = Params(d=2, in_width=31, norm_frac=0)
    rng = np.random.default_rng(6)
    vectors = np.concatenate([np.full((1, 2), p.in_min), np.full((1, 2), p.in_max),
                              [[p.in_min, p.in_max]],
                              rng.integers(p.in_min, p.in_max, (20, 2), endpoint=True)])
    exact = [[sum(int(a) * int(b) for a, b in zip(q, k, strict=True)) for k in vectors]
             for q in vectors]
    got = baseline_scores(vectors, vectors, p)
    assert got.dtype == np.int64 and got[0, 0] == 2 * 4 ** 30
    assert got.tolist() == exact


def test_scores_arguments():
    p = Params(d=4, in_width=8)
    with pytest.raises(ValueError, match=r"keys must lie in -128..127 \(in_width=8\)"):
        baseline_scores(np.zeros((1, 4)), np.full((2, 4), 128), p)
    with pytest.raises(ValueError, match=r"queries must have shape \(n, 4\), got \(3,\)"):
        baseline_scores(np.zeros(3), np.zeros((2, 4)), p)
    assert baseline_scores(np.zeros((2, 4)), np.zeros((0, 4)), p).shape == (2, 0)


def test_component():
    p = Params(d=16, in_width=8, depth=100)
    baseline = ConventionalMacro(p)
    score = baseline.signature.members["scores"].signature.members["payload"].shape
    assert score == data.StructLayout({"score": signed(20), "last": 1})
    assert baseline_score_width(p) == 20
    vector = baseline.signature.members["keys"].signature.members["payload"].shape
    assert vector == data.ArrayLayout(signed(8), 16)
    assert baseline.latencies == {"write": 1, "query": 5 + 4}
    with pytest.raises(TypeError, match="params must be a Params, got 16"):
        ConventionalMacro(16)
