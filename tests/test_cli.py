"""The ``axelram`` command line: calibrate and info, and their handling of bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from axelram.gen.cli import main


def _keys(tmp_path, shape, seed=3, name="keys.npy"):
    path = tmp_path / name
    np.save(path, np.random.default_rng(seed).normal(size=shape))
    return path


@pytest.mark.parametrize("shape", [(40, 32), (3, 40, 32)], ids=["N-d", "layers-N-d"])
def test_calibrate_writes_signs(tmp_path, capsys, shape):
    keys, out = _keys(tmp_path, shape), tmp_path / "signs.json"
    assert main(["calibrate", "--keys", str(keys), "--b", "2", "--candidates", "12",
                 "--out", str(out)]) == 0
    document = json.loads(out.read_text())
    layers = 1 if len(shape) == 2 else shape[0]
    assert document["d"] == 32 and document["b"] == 2 and len(document["layers"]) == layers
    for layer in document["layers"]:
        assert len(layer["signs"]) == 32 and set(layer["signs"]) <= {"+", "-"}
        assert 0 <= layer["seed"] < 12 and layer["mse"] <= layer["default_mse"]
        assert layer["norm_ratio"] >= 1
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["layer", "norm", "ratio", "seed", "MSE", "chosen", "MSE",
                                  "default"]
    assert len(printed) == layers + 2


def _bad(tmp_path, name, data):
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        np.save(path, data, allow_pickle=True)
    return path


BAD_KEYS = {
    "missing": (None, "keys file not found"),
    "malformed": (b"this is not numpy", "not a valid .npy"),
    "truncated": (b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, "
                  b"'shape': (4, 8), }" + b" " * 50 + b"\n" + b"\0" * 16, "not a valid .npy"),
    "nan": (np.full((4, 8), np.nan), "NaN or inf"),
    "inf": (np.array([[np.inf] * 8] * 4), "NaN or inf"),
    "rank1": (np.ones(8), "must be 2-D or 3-D"),
    "rank4": (np.ones((1, 2, 3, 8)), "must be 2-D or 3-D"),
    "not-power-of-two": (np.ones((4, 12)), "d must be a power of two"),
    "strings": (np.array([["a"] * 8] * 4), "must be numeric"),
    "objects": (np.array([[None] * 8] * 4, dtype=object), "not a valid .npy"),
    "empty": (np.ones((0, 8)), "hold no vector"),
    "all-zero": (np.zeros((4, 8)), "every calibration key is zero"),
}


@pytest.mark.parametrize("case", BAD_KEYS, ids=list(BAD_KEYS))
def test_calibrate_bad_keys(tmp_path, capsys, case):
    data, message = BAD_KEYS[case]
    keys = tmp_path / "missing.npy" if data is None else _bad(tmp_path, "keys.npy", data)
    out = tmp_path / "signs.json"
    assert main(["calibrate", "--keys", str(keys), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("axelram: error: ") and message in err
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] in ([], ["keys.npy"])


@pytest.mark.parametrize(("args", "message"), [
    (["--b", "0"], "b must be in 1..8, got 0"),
    (["--b", "9"], "b must be in 1..8, got 9"),
    (["--candidates", "0"], "--candidates must be at least 1, got 0"),
    (["--b", "x"], "invalid int value"),
])
def test_calibrate_bad_options(tmp_path, capsys, args, message):
    keys, out = _keys(tmp_path, (10, 16)), tmp_path / "signs.json"
    assert _run(["calibrate", "--keys", str(keys), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists()


def _run(argv):
    """``main``'s exit status, whether it returns it or argparse raises it."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


@pytest.mark.parametrize("command", [["gen"], ["synth", "--target", "ecp5-85k"],
                                     ["board", "--board", "icebreaker"]],
                         ids=["gen", "synth", "board"])
def test_output_directory_is_a_file(tmp_path, capsys, command):
    """An output directory that exists as a file is refused before any work is done."""
    out = tmp_path / "out"
    out.write_text("")
    assert _run([*command, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"axelram: error: output {out} exists and is not a directory\n"


@pytest.mark.parametrize("command", [["sim"], ["host", "--port", "/dev/nowhere"]],
                         ids=["sim", "host"])
@pytest.mark.parametrize("option", ["--out", "--raw-out"])
def test_output_file_in_a_missing_directory(tmp_path, capsys, command, option):
    """An output file in a directory that does not exist is refused before any work is done."""
    keys, queries = _keys(tmp_path, (4, 8)), _keys(tmp_path, (2, 8), name="queries.npy")
    paths = {"--out": tmp_path / "scores.npy", "--raw-out": tmp_path / "raw.npy"}
    paths[option] = tmp_path / "nowhere" / "scores.npy"
    argv = [*command, "--keys", str(keys), "--queries", str(queries)]
    for name, path in paths.items():
        argv += [name, str(path)]
    assert _run(argv) == 2
    err = capsys.readouterr().err
    assert err == f"axelram: error: output directory does not exist: {tmp_path / 'nowhere'}\n"


def test_exit_status_and_single_line_from_a_real_process(tmp_path):
    """The installed entry point: status 2, one stderr line, no output file."""
    out = tmp_path / "signs.json"
    for argv in (["calibrate", "--keys", str(tmp_path / "nope.npy"), "--out", str(out)],
                 ["calibrate", "--out", str(out)],
                 ["info", "--d", "12"]):
        result = subprocess.run([sys.executable, "-m", "axelram.gen.cli", *argv],
                                capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert result.returncode == 2, argv
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("axelram: error:")
        assert not out.exists()


def test_info_prints_widths(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "row                     400 bits" in out
    assert "+0.5005" in out and "+2.1519" in out
