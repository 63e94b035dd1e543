"""``axelram gen``: the files it writes, their determinism, and its handling of bad input."""

import json
import re

import numpy as np
import pytest
from amaranth.hdl import Fragment, Module
from amaranth.lib import memory

from axelram.gen.cli import main
from axelram.gen.synth import to_verilog
from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed, signs_to_text
from axelram.hdl.macro import Macro
from axelram.hdl.store import IndexStore

SMALL = ["--d", "8", "--b", "3", "--depth", "16", "--in-width", "8"]


def _run(argv):
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


def test_gen_files_and_manifest(tmp_path):
    out = tmp_path / "core"
    assert _run(["gen", *SMALL, "--sign-seed", "4", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "axelram.json", "axelram.v"]
    manifest = json.loads((out / "axelram.json").read_text())
    p = Params(d=8, b=3, depth=16, in_width=8)
    assert manifest["parameters"]["d"] == 8 and manifest["parameters"]["signs"] == "seed 4"
    assert manifest["widths"] == p.widths
    assert manifest["signs"] == signs_to_text(signs_from_seed(4, 8))
    assert manifest["score_scale_log2"] == p.score_scale_log2
    assert manifest["codebook"]["boundaries_fixed_positive"] == p.boundaries_fixed.tolist()
    verilog = (out / "axelram.v").read_text()
    for port in manifest["ports"]:
        width = f"[{port['width'] - 1}:0] " if port["width"] > 1 else ""
        assert re.search(rf"\b{port['direction']} {re.escape(width)}{port['name']};", verilog), \
            port
    assert "signs" not in {port["name"] for port in manifest["ports"]}
    assert set(manifest["latency"]) == {"write", "query"}
    macro = Macro(p, lanes=manifest["parameters"]["lanes"], signs=signs_from_seed(4, 8))
    Fragment.get(macro, None)  # elaborated, or Amaranth warns of an unused elaboratable
    interval = macro.query_interval(1)
    assert manifest["query_interval_min"] == interval
    assert f"a query takes max(n + 2, {interval}) cycles" in (out / "README.md").read_text()


def test_gen_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert _run(["gen", *SMALL, "-o", str(a)]) == 0
    assert _run(["gen", *SMALL, "-o", str(b)]) == 0
    for name in ("axelram.v", "axelram.json", "README.md"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_gen_with_calibrated_signs_and_port(tmp_path):
    keys = tmp_path / "keys.npy"
    np.save(keys, np.random.default_rng(0).normal(size=(2, 20, 8)))
    signs = tmp_path / "signs.json"
    assert _run(["calibrate", "--keys", str(keys), "--candidates", "5", "--out", str(signs)]) == 0
    assert _run(["gen", *SMALL, "--signs", str(signs), "--layer", "1", "-o",
                 str(tmp_path / "c")]) == 0
    manifest = json.loads((tmp_path / "c" / "axelram.json").read_text())
    assert manifest["signs"] == json.loads(signs.read_text())["layers"][1]["signs"]
    assert _run(["gen", *SMALL, "--signs-port", "-o", str(tmp_path / "p")]) == 0
    manifest = json.loads((tmp_path / "p" / "axelram.json").read_text())
    assert manifest["signs"] is None and "signs" in {p["name"] for p in manifest["ports"]}


def _signs_file(tmp_path, text):
    path = tmp_path / "s.json"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(("args", "message"), [
    (["--d", "12"], "d must be a power of two in 2..1024, got 12"),
    (["--d", "2048"], "d must be a power of two in 2..1024, got 2048"),
    (["--b", "9"], "b must be in 1..8, got 9"),
    (["--in-width", "1"], "in_width must be in 2..32, got 1"),
    (["--depth", "0"], "depth must be in 1..16777216, got 0"),
    (["--name", "1bad"], "--name must be a Verilog identifier"),
    (["--sign-seed", "-1"], "--sign-seed must be non-negative"),
    (["--d", "x"], "invalid int value"),
])
def test_gen_bad_parameters(tmp_path, capsys, args, message):
    out = tmp_path / "core"
    assert _run(["gen", *SMALL, *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("content", "message"), [
    (None, "signs file not found"),
    ("{not json", "not valid JSON"),
    ('{"format": "other"}', "not an axelram calibrate output"),
    ('{"format": "axelram-signs", "d": 16, "layers": []}', "is for d=16, not d=8"),
    ('{"format": "axelram-signs", "d": 8, "layers": [{"signs": "++++++++"}]}',
     "has layers 0..0, not 3"),
])
def test_gen_bad_signs_file(tmp_path, capsys, content, message):
    signs = str(tmp_path / "missing.json") if content is None else _signs_file(tmp_path, content)
    out = tmp_path / "core"
    layer = ["--layer", "3"] if "layers 0..0" in message else []
    assert _run(["gen", *SMALL, "--signs", signs, *layer, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not out.exists()


def test_gen_shared_rotator(tmp_path):
    """Sharing the rotator changes no latency: a query takes the encoder's rotator, which has
    the query rotator's latency. The next query enters that rotator only once the current
    one's table is handed over: a longer query interval."""
    own, shared = tmp_path / "own", tmp_path / "shared"
    assert _run(["gen", *SMALL, "-o", str(own)]) == 0
    assert _run(["gen", *SMALL, "--share-rotator", "-o", str(shared)]) == 0
    a = json.loads((own / "axelram.json").read_text())
    b = json.loads((shared / "axelram.json").read_text())
    assert not a["parameters"]["share_rotator"] and b["parameters"]["share_rotator"]
    assert b["latency"]["write"] == a["latency"]["write"]
    assert b["latency"]["query"] == a["latency"]["query"]
    assert b["query_interval_min"] > a["query_interval_min"]


@pytest.mark.parametrize("options", [["--lanes", "1"], ["--lanes", "8", "--b", "1"],
                                     ["--lanes", "2", "--share-rotator"]])
def test_gen_names_every_signal(tmp_path, options):
    """No signal of the emitted Verilog is one of Amaranth's anonymous ``$signal`` (what a
    signal created in a tuple assignment gets), which waveforms and timing reports would show."""
    out = tmp_path / "core"
    assert _run(["gen", *SMALL, *options, "-o", str(out)]) == 0
    verilog = (out / "axelram.v").read_text()
    assert "module" in verilog and "$signal" not in verilog


def test_verilog_leaves_ram_contents_undefined():
    """A memory that starts all zero (the RAMs) has no initial contents in the Verilog; one with
    other contents (a ROM) keeps every word, its zeros too, and both are still memories."""
    m = Module()
    m.submodules.ram = ram = memory.Memory(shape=8, depth=64, init=[])
    m.submodules.rom = rom = memory.Memory(shape=8, depth=4, init=[0, 0x5a, 0, 0xc3])
    write, read, rom_read = ram.write_port(), ram.read_port(), rom.read_port()
    ports = [write.addr, write.data, write.en, read.addr, read.data, rom_read.addr, rom_read.data]
    verilog = to_verilog(m, ports=ports)
    assert re.search(r"reg \[7:0\] ram \[63:0\];", verilog)
    assert not re.search(r"ram\[\d+\] =", verilog)
    assert re.search(r"reg \[7:0\] rom \[3:0\];", verilog)
    assert re.findall(r"rom\[(\d)\] = 8'h(\w+);", verilog) == [
        ("0", "00"), ("1", "5a"), ("2", "00"), ("3", "c3")]


def test_verilog_of_a_deep_store_is_small():
    """At d=128, b=4, T=4096 the store's 540,672 zero words were 552,000 of the Verilog's
    614,000 lines, and WebAssembly Yosys ran out of memory reading them."""
    params = Params(d=128, b=4, depth=4096)
    store = IndexStore(params)
    verilog = to_verilog(store)
    assert len(verilog.splitlines()) < 20_000
    slice_bits = store.slice_bits
    assert verilog.count(f"reg [{slice_bits - 1}:0] bank_0_") == -(-params.row_width // slice_bits)
