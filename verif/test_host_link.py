# amaranth: UnusedElaboratable=no
"""HostLink: the byte protocol over the serial pins, against the protocol's Python model and the
golden model.

The PC's side is :class:`~axelram.verif.test_uart.SerialHost`, which drives ``rx`` bit by bit
(with a baud error and idle gaps) and decodes ``tx``. Commands are made by
:mod:`axelram.gen.protocol`; every reply must equal, byte for byte, what
:class:`~axelram.gen.protocol.Device` answers to the same bytes, and the decoded scores must equal
:func:`axelram.golden.fixed.scores` of the keys written.
"""

import cocotb
import numpy as np
import pytest
from amaranth.hdl import Fragment

from axelram.gen import protocol
from axelram.golden import fixed
from axelram.golden.params import Params
from axelram.golden.signs import signs_from_seed
from axelram.hdl.host_link import HostLink
from axelram.verif import harness
from axelram.verif.tb import Clocked, case, case_params, case_rng
from axelram.verif.test_uart import SerialHost, frame_bits
from axelram.verif.vectors import extreme_vectors, random_vectors


class LinkTB(Clocked):
    """The DUT, the serial host and the protocol model, fed the same bytes."""

    def __init__(self, dut, rng=None, skew=0.0):
        super().__init__(dut)
        self.p = case_params()
        self.lanes, self.divisor = case()["lanes"], case()["divisor"]
        self.signs = signs_from_seed(case()["sign_seed"], self.p.d)
        self.rng = case_rng() if rng is None else rng
        self.host = SerialHost(dut, self.divisor, skew)
        self.model = protocol.Device(self.p, self.lanes, self.signs)

    async def exchange(self, data: bytes, gaps: bool = False) -> bytes:
        """Send ``data``; return the replies, checked against the model's."""
        expected = self.model.receive(data)
        await self.host.send(data, self.rng if gaps else None)
        got = await self.host.read(len(expected))
        assert got == expected, f"link replied {got.hex()}, the model {expected.hex()}"
        return got

    def key_commands(self, keys) -> bytes:
        """Write-key commands; coordinates with random bits above ``in_width`` (ignored)."""
        size = protocol.coordinate_bytes(self.p)
        spare = 8 * size - self.p.in_width
        commands = []
        for key in keys:
            command = bytearray(protocol.vector_command(protocol.WRITE_KEY, key, self.p))
            for j in range(self.p.d):
                top = 1 + j * size + size - 1   # the coordinate's most significant byte
                command[top] ^= int(self.rng.integers(0, 1 << spare)) << (8 - spare)
            commands.append(bytes(command))
        return b"".join(commands)

    def check_scores(self, reply: bytes, query, keys) -> np.ndarray:
        """The scores of a ``Q`` reply, checked against the golden model of ``keys``."""
        header, data = reply[:1 + protocol.COUNT_BYTES], reply[1 + protocol.COUNT_BYTES:]
        count = protocol.parse_query_header(header)
        assert count == len(keys)
        scores = protocol.parse_scores(data, count, self.p)
        if count:
            expected = fixed.scores(query[None], *fixed.write_keys(keys, self.signs, self.p),
                                    self.signs, self.p)[0]
            np.testing.assert_array_equal(scores, expected)
        return scores

    async def query(self, query, keys) -> np.ndarray:
        """Scores of ``query`` from the link: the reply read as the host reads it (the header
        says how many scores follow), checked against the model's and the golden model."""
        command = protocol.vector_command(protocol.QUERY, query, self.p)
        await self.host.send(command)
        header = await self.host.read(1 + protocol.COUNT_BYTES)
        count = protocol.parse_query_header(header)
        data = await self.host.read(count * protocol.score_bytes(self.p) + 1)
        assert header + data == self.model.receive(command)
        return self.check_scores(header + data, query, keys)

    async def status(self) -> tuple[int, int]:
        await self.host.send(bytes([protocol.STATUS]))
        return protocol.parse_status(await self.host.read(2 + protocol.COUNT_BYTES))

    def stimulus(self, count: int) -> np.ndarray:
        """``count`` vectors: about half of them edge cases of the input range, in random
        order, then random ones."""
        extremes = self.rng.permutation(extreme_vectors(self.p, self.signs))[:count // 2]
        return np.concatenate([extremes, random_vectors(self.rng, self.p, count - len(extremes))])


@cocotb.test()
async def link_identify(dut):
    """Identify names the macro; status of an empty store; no-ops; unknown commands; a query
    against the empty store is answered with no score."""
    tb = LinkTB(dut)
    await tb.reset()
    reply = await tb.exchange(bytes([protocol.IDENTIFY]))
    assert protocol.parse_identity(reply) == protocol.Identity(
        tb.p, tb.lanes, tuple(int(s) for s in tb.signs))
    assert await tb.status() == (0, 0)
    await tb.exchange(bytes([protocol.NOP, protocol.NOP, ord("x"), protocol.NOP, 0xFF]))
    assert (await tb.query(random_vectors(tb.rng, tb.p, 1)[0], [])).size == 0


@cocotb.test()
@cocotb.parametrize((("skew", "gaps"), [(-0.02, False), (0.02, True)]))
async def link_keys_and_queries(dut, skew, gaps):
    """Keys and a query back to back, sent at a baud rate 2% off the link's, without and with
    idle gaps: the query scores every key, bit-exact. Then the store is full and a key is
    answered ``F``; no byte was lost (no overrun)."""
    tb = LinkTB(dut, case_rng(int(100 * skew) + 2 + gaps), skew)
    await tb.reset()
    keys = tb.stimulus(tb.p.depth)
    query = random_vectors(tb.rng, tb.p, 1)[0]
    replies = await tb.exchange(
        tb.key_commands(keys) + protocol.vector_command(protocol.QUERY, query, tb.p), gaps)
    assert replies[:len(keys)] == bytes([protocol.WRITE_KEY]) * len(keys)
    tb.check_scores(replies[len(keys):], query, keys)
    for query in keys[:2]:
        await tb.query(query, keys)
    extra = random_vectors(tb.rng, tb.p, 1)
    assert await tb.exchange(tb.key_commands(extra), gaps) == bytes([protocol.STORE_FULL])
    assert await tb.status() == (tb.p.depth, protocol.FULL)
    await tb.query(extra[0], keys)


@cocotb.test()
async def link_clear(dut):
    """Keys, a clear, more keys and a status read sent without waiting: the status counts
    the new keys, and each query scores only the keys since the clear."""
    tb = LinkTB(dut, case_rng(10))
    await tb.reset()
    old = tb.stimulus(min(3, tb.p.depth))
    new = random_vectors(tb.rng, tb.p, min(2, tb.p.depth))
    commands = (tb.key_commands(old) + bytes([protocol.CLEAR]) + tb.key_commands(new)
                + bytes([protocol.STATUS]))
    replies = await tb.exchange(commands)
    assert replies == (b"K" * len(old) + b"C" + b"K" * len(new)
                       + protocol.status_reply(len(new), 0))
    for query in random_vectors(tb.rng, tb.p, 2):
        await tb.query(query, new)
    assert await tb.exchange(bytes([protocol.CLEAR])) == b"C"
    assert await tb.status() == (0, 0)


@cocotb.test()
async def link_resync(dut):
    """A key cut off half way: the no-operations of ``resync_bytes`` complete it (with zeros)
    and leave the link waiting for a command."""
    tb = LinkTB(dut, case_rng(20))
    await tb.reset()
    keys = random_vectors(tb.rng, tb.p, 2)
    commands = tb.key_commands(keys)
    key_size = len(commands) // 2
    assert await tb.exchange(commands[:key_size + key_size // 2]) == b"K"
    assert await tb.exchange(protocol.resync_bytes(tb.p)) == b"K"
    await tb.exchange(bytes([protocol.IDENTIFY]))
    assert await tb.status() == (2, 0)
    stored = np.stack(tb.model.keys)
    np.testing.assert_array_equal(stored[0], keys[0])
    await tb.query(keys[1], stored)


@cocotb.test()
async def link_receive_errors(dut):
    """A frame with a low stop bit and bytes sent while the link answers an identify (dropped)
    show in the status flags, which the status read clears; the link keeps working."""
    tb = LinkTB(dut, case_rng(30))
    await tb.reset()
    for bit in frame_bits(protocol.NOP)[:-1] + [0, 1]:
        dut.rx.value = bit
        await tb.cycles(tb.divisor)
    assert await tb.status() == (0, protocol.FRAMING)
    identity = protocol.identity_reply(tb.p, tb.lanes, tb.signs)
    await tb.host.send(bytes([protocol.IDENTIFY]) + bytes(len(identity) + 8))
    assert await tb.host.read(len(identity)) == identity
    assert await tb.status() == (0, protocol.OVERRUN)
    assert await tb.status() == (0, 0)
    keys = random_vectors(tb.rng, tb.p, 1)
    assert await tb.exchange(tb.key_commands(keys)) == b"K"
    await tb.query(keys[0], keys)


@cocotb.test()
async def link_reset_mid_traffic(dut):
    """Reset while a key is being received; afterwards the link works from an empty store."""
    tb = LinkTB(dut, case_rng(40))
    await tb.reset()
    keys = random_vectors(tb.rng, tb.p, 2)
    commands = tb.key_commands(keys)
    sending = cocotb.start_soon(tb.host.send(commands))
    await tb.cycles(int(tb.rng.integers(10, 10 * len(commands))) * tb.divisor)
    sending.cancel()
    dut.rx.value = 1
    await tb.cycles(30 * tb.divisor)   # a reply under way ends
    await tb.reset()
    tb.host.received.clear()
    tb.model = protocol.Device(tb.p, tb.lanes, tb.signs)
    assert await tb.status() == (0, 0)
    assert await tb.exchange(tb.key_commands(keys)) == b"KK"
    await tb.query(keys[1], keys)


# (8, 2, 8, 8, 1, 4, True): one lane and one rotator for keys and queries, as the iCEBreaker.
FAST = {(8, 2, 8, 8, 1, 4, True), (4, 2, 5, 4, 2, 4, False)}


@pytest.mark.parametrize(("d", "b", "in_width", "depth", "lanes", "divisor", "share",
                          "simulator"), harness.cases(
    verilator=[(8, 2, 8, 8, 1, 4, True), (8, 2, 8, 8, 1, 4, False), (16, 3, 12, 4, 4, 4, False),
               (16, 1, 16, 5, 16, 5, False), (32, 3, 16, 6, 8, 5, False),
               (128, 3, 16, 3, 1, 4, False)],
    icarus=[(4, 2, 5, 4, 2, 4, False)],
    slow=lambda *c: c not in FAST,
))
def test_host_link(d, b, in_width, depth, lanes, divisor, share, simulator, request):
    params = {"d": d, "b": b, "in_width": in_width, "depth": depth}
    harness.run(
        HostLink(Params(**params), lanes=lanes, signs=signs_from_seed(9, d), divisor=divisor,
                 share_rotator=share),
        test_module=__name__, case=request.node.name, simulator=simulator,
        env={"params": params, "lanes": lanes, "divisor": divisor, "sign_seed": 9},
        seed=8000 + d + b + lanes,
    )


def test_host_link_arguments():
    p = Params(d=8, depth=4)
    signs = signs_from_seed(0, 8)
    for lanes, divisor in ((2, 104), (None, 4)):
        link = HostLink(p, lanes=lanes, signs=signs, divisor=divisor)
        assert (link.params, link.lanes, link.divisor) == (p, lanes or 8, divisor)
        Fragment.get(link, None)   # elaborates (uses) the link and its macro
    with pytest.raises(TypeError, match="params must be a Params"):
        HostLink({"d": 8}, signs=signs, divisor=104)
    with pytest.raises(TypeError, match="signs must be a sequence of .1 or -1, got None"):
        HostLink(p, signs=None, divisor=104)
    with pytest.raises(ValueError, match="lanes must be a power of two in 1..8"):
        HostLink(p, lanes=3, signs=signs, divisor=104)
    with pytest.raises(ValueError, match="divisor must be at least 4"):
        HostLink(p, signs=signs, divisor=2)
