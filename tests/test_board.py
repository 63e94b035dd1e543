"""Board builds and the host side: the protocol's encoder, decoder and device model; the host
session against a fake serial port running that model; the constraints files; ``axelram board``
and ``axelram host`` on bad input; slow: the real iCEBreaker and ULX3S bitstreams.

The RTL's side of the protocol is proved by ``verif/test_host_link.py``.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from axelram.gen import host, protocol
from axelram.gen.board import (
    BOARDS,
    BoardError,
    BoardTop,
    check_constraints,
    divisor_for,
    read_constraints,
)
from axelram.gen.cli import main
from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed

P = Params(d=16, b=2, in_width=8, depth=12, table_width=12)
SIGNS = signs_from_seed(0, 16)


# -- Protocol ---------------------------------------------------------------------------------


def test_identity_round_trip():
    for p, lanes in ((P, 1), (Params(), 128), (Params(d=2, b=1, codebook="beta", depth=1), 2)):
        signs = signs_from_seed(3, p.d)
        reply = protocol.identity_reply(p, lanes, signs)
        assert len(reply) == protocol.identity_length(reply[:protocol.IDENTITY_HEADER])
        assert protocol.parse_identity(reply) == protocol.Identity(
            p, lanes, tuple(int(s) for s in signs))


@pytest.mark.parametrize(("reply", "message"), [
    (b"K" + bytes(17), "not an identify reply"),
    (b"I\x02" + bytes(16), "protocol version 2"),
    (protocol.identity_reply(P, 1, SIGNS)[:-1], "identify reply of 19 bytes, expected 20"),
    (protocol.identity_reply(P, 1, SIGNS)[:2] + b"\x0c\x00"
     + protocol.identity_reply(P, 1, SIGNS)[4:], "invalid macro: d must be a power of two"),
])
def test_identity_malformed(reply, message):
    with pytest.raises(protocol.ProtocolError, match=message):
        protocol.parse_identity(reply)


def test_vectors_and_scores():
    key = np.array([P.in_min, P.in_max, -1, 0, 1] + [5] * 11)
    command = protocol.vector_command(protocol.WRITE_KEY, key, P)
    assert command == b"K" + bytes([0x80, 0x7F, 0xFF, 0x00, 0x01]) + bytes([5] * 11)
    wide = Params(d=2, in_width=12)
    assert protocol.vector_command(protocol.QUERY, np.array([-2048, 2047]), wide) == (
        b"Q\x00\xf8\xff\x07")
    scores = np.array([-(1 << (P.score_width - 1)), (1 << (P.score_width - 1)) - 1, -1, 0])
    data = protocol.encode_scores(scores, P)
    assert len(data) == 4 * protocol.score_bytes(P) + 1 and data[-1] == protocol.END
    np.testing.assert_array_equal(protocol.parse_scores(data, 4, P), scores)
    size = protocol.score_bytes(P)
    with pytest.raises(protocol.ProtocolError, match=f"4 scores of {size} bytes and 'E' expected"):
        protocol.parse_scores(data[:-1] + b"X", 4, P)
    assert protocol.parse_status(protocol.status_reply(70000, 5)) == (70000, 5)
    assert protocol.parse_query_header(protocol.query_header(3)) == 3


@pytest.mark.parametrize(("vector", "message"), [
    (np.array([128] + [0] * 15), r"coordinates must be in -128..127 \(in_width 8\), got 0..128"),
    (np.zeros(8, dtype=int), "a vector is 16 integers"),
    (np.zeros(16), "a vector is 16 integers"),
])
def test_vector_command_refuses(vector, message):
    with pytest.raises(ValueError, match=message):
        protocol.vector_command(protocol.WRITE_KEY, vector, P)


def test_device_model():
    """The model: keys until the store is full, then F; scores of the golden model; clear;
    status; no-ops; unknown commands; bits above in_width ignored; commands split anywhere."""
    device = protocol.Device(P, 1, SIGNS)
    rng = np.random.default_rng(1)
    keys = rng.integers(P.in_min, P.in_max + 1, size=(P.depth + 1, P.d))
    stream = b"".join(protocol.vector_command(protocol.WRITE_KEY, k, P) for k in keys)
    replies = b"".join(device.receive(stream[i:i + 7]) for i in range(0, len(stream), 7))
    assert replies == b"K" * P.depth + b"F"
    assert device.receive(b"N") == protocol.status_reply(P.depth, protocol.FULL)
    query = keys[-1]
    reply = device.receive(protocol.vector_command(protocol.QUERY, query, P))
    assert protocol.parse_query_header(reply[:5]) == P.depth
    expected = fixed.scores(query[None], *fixed.write_keys(keys[:-1], SIGNS, P), SIGNS, P)[0]
    np.testing.assert_array_equal(protocol.parse_scores(reply[5:], P.depth, P), expected)
    assert device.receive(b"\x00C\x00x") == b"C?"
    assert device.receive(b"N") == protocol.status_reply(0, 0)
    assert device.receive(b"Q" + bytes(16)) == protocol.query_header(0) + b"E"
    wrapped = Params(d=2, in_width=4, depth=2)
    device = protocol.Device(wrapped, 2, [1, -1])
    device.receive(b"K\xf7\x38")
    np.testing.assert_array_equal(device.keys[0], [7, -8])


# -- Host session against a fake serial port ----------------------------------------------------


class FakeSerial:
    """pyserial's interface over :class:`protocol.Device`: what is written is answered at once.
    ``corrupt`` flips the low bit of the reply byte at that offset of the stream."""

    def __init__(self, device, corrupt=None, silent=False):
        self.device, self.corrupt, self.silent = device, corrupt, silent
        self.replies = bytearray()
        self.sent = 0
        self.timeout = None

    def write(self, data):
        reply = bytearray(self.device.receive(bytes(data)))
        if self.corrupt is not None and self.sent <= self.corrupt < self.sent + len(reply):
            reply[self.corrupt - self.sent] ^= 1
        self.sent += len(reply)
        if not self.silent:
            self.replies += reply
        return len(data)

    def read(self, count):
        data = bytes(self.replies[:count])
        del self.replies[:count]
        return data

    def flush(self):
        pass

    def reset_input_buffer(self):
        self.replies.clear()


def _files(tmp_path, keys=5, queries=3, d=16, seed=2):
    rng = np.random.default_rng(seed)
    paths = tmp_path / "keys.npy", tmp_path / "queries.npy"
    np.save(paths[0], rng.normal(size=(keys, d)))
    np.save(paths[1], rng.normal(size=(queries, d)))
    return [str(path) for path in paths]


def _host(monkeypatch, tmp_path, port, *extra, keys=5):
    monkeypatch.setattr(host, "open_port", lambda name, baud: port)
    key_file, query_file = _files(tmp_path, keys=keys)
    return main(["host", "--port", "/dev/fake", "--keys", key_file, "--queries", query_file,
                 "--out", str(tmp_path / "scores.npy"), "--raw-out", str(tmp_path / "raw.npy"),
                 *extra])


def test_host_session(monkeypatch, tmp_path, capsys):
    """A session against the model, left in the middle of a key by an earlier run: resync,
    identify (checked against the options), clear, keys, queries, every score bit-exact."""
    device = protocol.Device(P, 1, SIGNS)
    device.receive(b"K" + bytes(5))
    assert _host(monkeypatch, tmp_path, FakeSerial(device), "--d", "16", "--b", "2",
                 "--lanes", "1", "--sign-seed", "0") == 0
    out = capsys.readouterr().out
    assert "board vs golden model: 15 of 15 scores bit-exact" in out
    assert "d=16 b=2 in_width=8 depth=12" in out
    raw, estimate = np.load(tmp_path / "raw.npy"), np.load(tmp_path / "scores.npy")
    assert raw.shape == estimate.shape == (3, 5) and raw.dtype == np.int64
    assert len(device.keys) == 5


def test_host_reports_a_wrong_score(monkeypatch, tmp_path, capsys):
    # Reply bytes: the identity (20), 'C', five 'K', then the first query's 5-byte header and
    # its scores: flip the lowest bit of key 2's.
    offset = 20 + 1 + 5 + 5 + 2 * protocol.score_bytes(P)
    port = FakeSerial(protocol.Device(P, 1, SIGNS), corrupt=offset)
    assert _host(monkeypatch, tmp_path, port) == 1
    captured = capsys.readouterr()
    assert "14 of 15 scores bit-exact" in captured.out
    assert captured.err == ("axelram: error: the board differs from the golden model in 1 "
                            "scores (first: query 0, key 2)\n")


@pytest.mark.parametrize(("port", "extra", "keys", "message"), [
    (FakeSerial(protocol.Device(P, 1, SIGNS)), ["--d", "32"], 5,
     "the board's macro differs: d 16 (asked 32)"),
    (FakeSerial(protocol.Device(P, 1, SIGNS)), ["--lanes", "4", "--depth", "12"], 5,
     "the board's macro differs: lanes 1 (asked 4)"),
    (FakeSerial(protocol.Device(P, 1, SIGNS)), ["--sign-seed", "7"], 5,
     "the board's macro differs: another sign vector than asked"),
    (FakeSerial(protocol.Device(P, 1, SIGNS)), [], 13, "13 keys do not fit the board's store"),
    (FakeSerial(protocol.Device(P, 1, SIGNS), silent=True), [], 5,
     "identify: the board sent 0 of 18 bytes (nothing)"),
    (FakeSerial(protocol.Device(P, 1, SIGNS), corrupt=20), [], 5,
     "clear: the board answered 42, expected 43"),
    (FakeSerial(protocol.Device(P, 1, SIGNS), corrupt=0), [], 5,
     "not an identify reply: 48"),
])
def test_host_errors(monkeypatch, tmp_path, capsys, port, extra, keys, message):
    assert _host(monkeypatch, tmp_path, port, *extra, keys=keys) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("axelram: error: ") and message in err
    assert not (tmp_path / "scores.npy").exists() and not (tmp_path / "raw.npy").exists()


def test_host_needs_pyserial(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "serial", None)
    key_file, query_file = _files(tmp_path)
    assert main(["host", "--port", "/dev/ttyUSB9", "--keys", key_file, "--queries", query_file,
                 "--out", str(tmp_path / "s.npy")]) == 2
    assert capsys.readouterr().err == ("axelram: error: axelram host needs pyserial: pip "
                                       "install 'axelram[host]'\n")


def test_link_over_the_model():
    """:class:`host.Link` alone: status, a full store, a query."""
    link = host.Link(FakeSerial(protocol.Device(P, 1, SIGNS)), 115200)
    assert link.identify().params == P
    keys = np.arange(P.depth * P.d).reshape(P.depth, P.d) % 256 - 128
    link.write_keys(keys, P)
    assert link.status() == (P.depth, protocol.FULL)
    with pytest.raises(host.LinkError, match="key 0 was answered b'F'"):
        link.write_keys(keys[:1], P)
    expected = fixed.scores(keys[:1], *fixed.write_keys(keys, SIGNS, P), SIGNS, P)[0]
    np.testing.assert_array_equal(link.query(keys[0], P), expected)


# -- Constraints --------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


@pytest.mark.parametrize("board", BOARDS)
def test_constraints_are_the_boards_pins(board):
    """constraints/ holds exactly the pins and clock amaranth-boards gives the board top."""
    spec = BOARDS[board]
    top = BoardTop(P, lanes=1, signs=SIGNS, divisor=104)
    plan = spec.platform().build(top, name="top", do_build=False)
    generated = plan.files[f"top.{spec.constraints.rsplit('.', 1)[1]}"]
    assert _lines(spec.constraints_path.read_text()) == _lines(generated)
    ports, clocks = read_constraints(generated)
    assert {"uart_0__rx__io", "uart_0__tx__io", "led_0__io"} <= ports
    assert clocks == {"icebreaker": {"clk12_0__io": 12.0},
                      "ulx3s-85f": {"clk25_0__io": 25.0}}[board]


def test_check_constraints():
    generated = "set_io clk 35\nset_io uart_rx 6\nset_frequency clk 12.0\n"
    check_constraints(generated, "# pins\nset_io clk 35\nset_io uart_rx 6\n"
                      "set_frequency clk 12.0", "x.pcf")
    with pytest.raises(BoardError, match="x.pcf places no pin for port.s. uart_rx"):
        check_constraints(generated, "set_io clk 35\nset_frequency clk 12.0", "x.pcf")
    with pytest.raises(BoardError, match="must constrain clock clk to 12 MHz, it says 24.0"):
        check_constraints(generated, "set_io clk 35\nset_io uart_rx 6\nset_frequency clk 24",
                          "x.pcf")
    lpf = 'LOCATE COMP "clk" SITE "G2";\nFREQUENCY PORT "clk" 25000000.0 HZ;\n'
    assert read_constraints(lpf) == ({"clk"}, {"clk": 25.0})


def test_divisor_for():
    assert divisor_for(12e6, 115200) == 104 and divisor_for(25e6, 115200) == 217
    assert divisor_for(12e6, 3_000_000) == 4
    with pytest.raises(ValueError, match="too fast for a 12 MHz clock .* at most 3000000 baud"):
        divisor_for(12e6, 4_000_000)
    with pytest.raises(ValueError, match="13 cycles per bit give 923077 baud, 2.6% off"):
        divisor_for(12e6, 900_000)
    with pytest.raises(ValueError, match="baud must be a positive integer"):
        divisor_for(12e6, 0)


# -- axelram board --------------------------------------------------------------------------


def _no_output(tmp_path):
    assert [p.name for p in tmp_path.iterdir()] == []


@pytest.mark.parametrize(("args", "message"), [
    (["--board", "arty"], "argument --board: invalid choice: 'arty'"),
    (["--board", "icebreaker", "--d", "12"], "d must be a power of two in 2..1024, got 12"),
    (["--board", "icebreaker", "--lanes", "32"], "--lanes must be a power of two in 1..8"),
    (["--board", "icebreaker", "--baud", "4000000"], "baud 4000000 is too fast"),
    (["--board", "ulx3s-85f", "--signs-port"], "do not apply to a board build"),
])
def test_board_bad_options(tmp_path, args, message):
    """The installed entry point: one line on stderr, status 2, nothing written."""
    result = subprocess.run([sys.executable, "-m", "axelram.gen.cli", "board", *args,
                             "-o", str(tmp_path / "out")],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("axelram: error: ")
    assert message in result.stderr
    _no_output(tmp_path)


def test_board_does_not_fit(tmp_path, capsys):
    """A store too deep for the UP5K's block RAM: one line with nextpnr's numbers, status 2,
    no output directory and no scratch directory left."""
    assert main(["board", "--board", "icebreaker", "--d", "4", "--depth", "16384",
                 "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("axelram: error: d=4 b=2 T=16384 with 1 lane(s) does not fit "
                          "icebreaker (iCE40UP5K): ")
    assert "ICESTORM_RAM 90/30 (+60)" in err
    _no_output(tmp_path)


def _check_build(out, board: str, magic: bytes):
    report = json.loads((out / "report.json").read_text())
    spec = BOARDS[board]
    assert report["board"] == board and report["lanes"] == spec.lanes
    assert report["nextpnr_seed"] in spec.seeds
    assert {k: report["params"][k] for k in spec.params} == spec.params
    assert report["fmax_mhz"] > report["clock_mhz"] and report["margin_mhz"] > 0
    assert report["divisor"] == divisor_for(report["clock_mhz"] * 1e6, 115200)
    for name, (used, available) in report["utilization"].items():
        assert used <= available, name
    bitstream = (out / report["bitstream"]).read_bytes()
    assert len(bitstream) == report["bitstream_bytes"] and magic in bitstream[:256]
    text = (out / "report.md").read_text()
    assert f"| Fmax after routing | {report['fmax_mhz']:.1f} MHz |" in text
    assert f"| nextpnr seed | {report['nextpnr_seed'] or 'default'} |" in text
    assert "Max frequency for clock" in (out / "nextpnr.log").read_text()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [report["bitstream"], "nextpnr.log", "report.json", "report.md", "yosys.log"])
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".axelram")] == []
    return report


@pytest.mark.slow
def test_board_icebreaker(tmp_path, capsys):
    """The iCEBreaker bitstream at the board's default macro: it fits and meets 12 MHz (one to
    four minutes)."""
    assert main(["board", "--board", "icebreaker", "-o", str(tmp_path / "ice")]) == 0
    report = _check_build(tmp_path / "ice", "icebreaker", b"\x7e\xaa\x99\x7e")
    assert report["utilization"]["ICESTORM_RAM"][0] > 0
    assert "icebreaker: wrote" in capsys.readouterr().out


@pytest.mark.slow
def test_board_ulx3s(tmp_path):
    """The ULX3S bitstream at the default macro (d=128, b=3, T=4096): about half an hour."""
    assert main(["board", "--board", "ulx3s-85f", "-o", str(tmp_path / "ulx3s")]) == 0
    report = _check_build(tmp_path / "ulx3s", "ulx3s-85f", b"\xff\xff\xbd\xb3")
    assert report["utilization"]["DP16KD"][0] > 0
