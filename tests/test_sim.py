"""``axelram sim``: a user's vectors through the generated RTL, checked against the golden model."""

import numpy as np
import pytest

from axelram.gen.cli import main
from axelram.gen.sim import accuracy, to_integers
from axelram.golden.params import Params

SMALL = ["--b", "3", "--depth", "16", "--in-width", "8"]


def _run(argv):
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


def _save(tmp_path, name, array):
    path = tmp_path / name
    np.save(path, array)
    return str(path)


def test_sim_heads_and_blocks(tmp_path, capfd, monkeypatch):
    """Two heads, 20 keys each (two blocks of the 16-key store), 3 queries: bit-exact, with a
    progress line per block in a log; a second run reuses the cached build."""
    monkeypatch.setenv("AXELRAM_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(8)
    print("seed 8")
    keys = _save(tmp_path, "k.npy", rng.normal(size=(2, 20, 8)))
    queries = _save(tmp_path, "q.npy", rng.normal(size=(2, 3, 8)))
    out, raw = tmp_path / "s.npy", tmp_path / "raw.npy"
    assert _run(["sim", *SMALL, "--keys", keys, "--queries", queries, "--out", str(out),
                 "--raw-out", str(raw)]) == 0
    text, log = capfd.readouterr()
    assert "RTL vs golden model: 120 of 120 scores bit-exact" in text
    assert [line for line in log.splitlines() if line.startswith("axelram sim: ")] == \
        [f"axelram sim: block {n}/4 scored" for n in range(1, 5)]
    scores = np.load(out)
    assert scores.shape == (2, 3, 20) and np.load(raw).dtype == np.int64
    exact = np.einsum("hqd,hnd->hqn", np.load(queries), np.load(keys))
    assert np.corrcoef(scores.ravel(), exact.ravel())[0, 1] > 0.9
    assert _run(["sim", *SMALL, "--keys", keys, "--queries", queries, "--out", str(out)]) == 0
    assert "RTL vs golden model: 120 of 120 scores bit-exact" in capfd.readouterr().out
    np.testing.assert_array_equal(np.load(out), scores)
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_to_integers():
    p = Params(d=8, in_width=8)
    ints, scale = to_integers(np.array([[0.5, -1.0, 0.25]]), p)
    assert scale == 1.0 / 127 and ints.tolist() == [[64, -127, 32]]
    assert to_integers(np.zeros((2, 3)), p)[1] == 1.0


def test_accuracy_of_a_perfect_estimate():
    exact = np.random.default_rng(1).normal(size=(4, 10))
    metrics = accuracy(exact, exact, 8)
    assert metrics["rms_error"] == 0 and metrics["top1_agreement"] == 1
    assert metrics["correlation"] == pytest.approx(1) and metrics["softmax_kl"] == pytest.approx(0)


@pytest.mark.parametrize(("keys", "queries", "extra", "message"), [
    ((10, 8), (2, 3, 8), [], "must both be (N, d) or both (heads, N, d)"),
    ((2, 10, 8), (3, 3, 8), [], "must both be (N, d) or both (heads, N, d)"),
    ((10, 8), (3, 16), [], "keys have d=8 but queries d=16"),
    ((10, 8), (3, 8), ["--d", "16"], "--d is 16 but the vectors have d=8"),
    ((10, 12), (3, 12), [], "d must be a power of two in 2..1024, got 12"),
    ((0, 8), (3, 8), [], "at least one vector"),
    ((10, 8), (3, 8), ["--signs-port"], "needs a sign vector"),
    ((10, 8), (3, 8), ["--b", "0"], "b must be in 1..8, got 0"),
])
def test_sim_bad_input(tmp_path, capsys, keys, queries, extra, message):
    rng = np.random.default_rng(0)
    out = tmp_path / "s.npy"
    argv = ["sim", *SMALL, *extra, "--keys", _save(tmp_path, "k.npy", rng.normal(size=keys)),
            "--queries", _save(tmp_path, "q.npy", rng.normal(size=queries)), "--out", str(out)]
    assert _run(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists()


def test_sim_rejects_nan(tmp_path, capsys):
    keys = np.ones((4, 8))
    keys[1, 2] = np.nan
    out = tmp_path / "s.npy"
    assert _run(["sim", "--keys", _save(tmp_path, "k.npy", keys), "--queries",
                 _save(tmp_path, "q.npy", np.ones((2, 8))), "--out", str(out)]) == 2
    assert "NaN or inf" in capsys.readouterr().err and not out.exists()
