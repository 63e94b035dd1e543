"""The byte protocol of the UART host link (:class:`axelram.hdl.host_link.HostLink`).

Pure Python, no serial port: the host script (:mod:`axelram.gen.host`), the cocotb test of the
RTL and the RTL itself (its command codes and identify reply) all take the format from here, so
none of them can drift. ``docs/board.md`` describes it byte by byte.

A command is one byte, then its payload. Integers are little-endian; a coordinate takes
:func:`coordinate_bytes` bytes (two's complement, sign-extended), a score
:func:`score_bytes` bytes (two's complement, sign-extended), a count :data:`COUNT_BYTES`.

=========  ====================  ===============================================================
command    payload               reply
=========  ====================  ===============================================================
``0x00``   none                  none (a no-operation: resynchronizes, see :func:`resync_bytes`)
``I``      none                  :func:`identity_reply`: ``I`` and the macro's configuration
``K``      d coordinates         ``K`` (stored) or ``F`` (store full: the key is dropped)
``Q``      d coordinates         ``Q``, N (count), N scores, ``E`` (N: keys written)
``C``      none                  ``C`` once the store is empty
``N``      none                  ``N``, count, flags (:data:`FULL`, :data:`OVERRUN`,
                                 :data:`FRAMING`; the last two since the previous ``N``)
other      none                  ``?``
=========  ====================  ===============================================================

Flow control: write-key and clear commands may follow each other without waiting for their
replies. After ``I``, ``Q`` or ``N`` the host reads the whole reply before it sends anything
else (their replies are longer than the commands; the link does not receive while it sends
them). The count of ``N`` and ``Q`` is the keys written (answered ``K``) since the last clear; a
query scores all of them.
"""

from dataclasses import dataclass

import numpy as np

from ..golden import fixed
from ..golden.codebook import KINDS
from ..golden.params import Params
from ..golden.signs import sign_bits

__all__ = [
    "VERSION", "NOP", "IDENTIFY", "WRITE_KEY", "QUERY", "CLEAR", "STATUS", "STORE_FULL", "END",
    "UNKNOWN", "FULL", "OVERRUN", "FRAMING", "COUNT_BYTES", "IDENTITY_HEADER", "ProtocolError",
    "Identity", "coordinate_bytes", "score_bytes", "vector_command", "identity_reply",
    "parse_identity", "identity_length", "query_header", "parse_query_header", "parse_scores",
    "encode_scores", "status_reply", "parse_status", "resync_bytes", "Device",
]

VERSION = 1

NOP = 0x00
IDENTIFY = ord("I")
WRITE_KEY = ord("K")        # also the reply: key stored
QUERY = ord("Q")            # also the first byte of the reply
CLEAR = ord("C")            # also the reply: store empty
STATUS = ord("N")           # also the first byte of the reply
STORE_FULL = ord("F")
END = ord("E")
UNKNOWN = ord("?")

# Bits of the status flags byte.
FULL = 1 << 0        # the store holds depth keys
OVERRUN = 1 << 1     # a received byte was dropped (the host sent while the link could not take it)
FRAMING = 1 << 2     # a received frame had a low stop bit (wrong baud rate, noise or a break)

COUNT_BYTES = 4
# ``I``, version, d (2), b, in_width, depth (4), lanes (2), codebook, codebook_frac, norm_frac,
# table_width, norm_mantissa, score_width: then the sign bits, ceil(d / 8) bytes.
IDENTITY_HEADER = 18


class ProtocolError(ValueError):
    """Bytes that do not follow the protocol."""


def coordinate_bytes(p: Params) -> int:
    """Bytes per key or query coordinate: ``ceil(in_width / 8)``."""
    return -(-p.in_width // 8)


def score_bytes(p: Params) -> int:
    """Bytes per score: ``ceil(score_width / 8)``."""
    return -(-p.score_width // 8)


def _little(values, size: int) -> bytes:
    """Integers (int64) as ``size``-byte little-endian two's complement (they must fit)."""
    values = np.asarray(values, dtype="<i8").reshape(-1)
    return values.view(np.uint8).reshape(-1, 8)[:, :size].tobytes()


def _from_little(data: bytes, size: int) -> np.ndarray:
    """Inverse of :func:`_little`: ``size``-byte two's complement integers, sign-extended."""
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, size)
    fill = np.where(raw[:, -1:] >= 0x80, 0xFF, 0).astype(np.uint8)
    padded = np.concatenate([raw, np.repeat(fill, 8 - size, axis=1)], axis=1)
    return np.ascontiguousarray(padded).view("<i8").reshape(-1).astype(np.int64)


def vector_command(command: int, vector, p: Params) -> bytes:
    """A ``K`` or ``Q`` command: the byte, then the ``d`` coordinates of ``vector``.

    Raises ``ValueError`` unless ``vector`` holds ``d`` integers in ``in_min..in_max``.
    """
    if command not in (WRITE_KEY, QUERY):
        raise ValueError(f"command must be WRITE_KEY or QUERY, got {command!r}")
    vector = np.asarray(vector)
    if vector.shape != (p.d,) or not np.issubdtype(vector.dtype, np.integer):
        raise ValueError(f"a vector is {p.d} integers, got shape {vector.shape} {vector.dtype}")
    if vector.min() < p.in_min or vector.max() > p.in_max:
        raise ValueError(f"coordinates must be in {p.in_min}..{p.in_max} (in_width "
                         f"{p.in_width}), got {vector.min()}..{vector.max()}")
    return bytes([command]) + _little(vector, coordinate_bytes(p))


@dataclass(frozen=True)
class Identity:
    """What the identify reply says: the macro's parameters, lanes and sign vector."""

    params: Params
    lanes: int
    signs: tuple[int, ...]

    def describe(self) -> str:
        p = self.params
        return (f"d={p.d} b={p.b} in_width={p.in_width} depth={p.depth} codebook={p.codebook} "
                f"codebook_frac={p.codebook_frac} norm_frac={p.norm_frac} "
                f"table_width={p.table_width} norm_mantissa={p.norm_mantissa} lanes={self.lanes}")


def identity_reply(p: Params, lanes: int, signs) -> bytes:
    """The reply to ``I``: :data:`IDENTITY_HEADER` bytes, then the sign bits (bit ``j`` of byte
    ``j // 8`` set where ``signs[j]`` is -1)."""
    bits = sign_bits(signs)
    return (bytes([IDENTIFY, VERSION]) + p.d.to_bytes(2, "little")
            + bytes([p.b, p.in_width]) + p.depth.to_bytes(4, "little")
            + lanes.to_bytes(2, "little")
            + bytes([KINDS.index(p.codebook), p.codebook_frac, p.norm_frac, p.table_width,
                     p.norm_mantissa, p.score_width])
            + bits.to_bytes(-(-p.d // 8), "little"))


def identity_length(header: bytes) -> int:
    """The whole identify reply's length from its first :data:`IDENTITY_HEADER` bytes."""
    if len(header) < IDENTITY_HEADER or header[0] != IDENTIFY:
        raise ProtocolError(f"not an identify reply: {header[:IDENTITY_HEADER].hex()}")
    if header[1] != VERSION:
        raise ProtocolError(f"protocol version {header[1]}, this host speaks {VERSION}")
    return IDENTITY_HEADER + -(-int.from_bytes(header[2:4], "little") // 8)


def parse_identity(data: bytes) -> Identity:
    """Inverse of :func:`identity_reply`; ``ProtocolError`` on a malformed reply."""
    if len(data) != identity_length(data):
        raise ProtocolError(f"identify reply of {len(data)} bytes, expected "
                            f"{identity_length(data)}")
    d = int.from_bytes(data[2:4], "little")
    codebook = data[12]
    if codebook >= len(KINDS):
        raise ProtocolError(f"unknown codebook {codebook} in the identify reply")
    try:
        p = Params(d=d, b=data[4], in_width=data[5], depth=int.from_bytes(data[6:10], "little"),
                   codebook=KINDS[codebook], codebook_frac=data[13], norm_frac=data[14],
                   table_width=data[15], norm_mantissa=data[16])
    except ValueError as error:
        raise ProtocolError(f"identify reply names an invalid macro: {error}") from None
    if data[17] != p.score_width:
        raise ProtocolError(f"identify reply says score_width {data[17]}, its parameters give "
                            f"{p.score_width}")
    bits = int.from_bytes(data[IDENTITY_HEADER:], "little")
    signs = tuple(-1 if bits >> j & 1 else 1 for j in range(d))
    return Identity(p, int.from_bytes(data[10:12], "little"), signs)


def query_header(count: int) -> bytes:
    """The start of a ``Q`` reply: ``Q`` and the number of scores that follow."""
    return bytes([QUERY]) + count.to_bytes(COUNT_BYTES, "little")


def parse_query_header(data: bytes) -> int:
    """The number of scores a ``Q`` reply announces."""
    if len(data) != 1 + COUNT_BYTES or data[0] != QUERY:
        raise ProtocolError(f"not a query reply: {data.hex()}")
    return int.from_bytes(data[1:], "little")


def encode_scores(scores, p: Params) -> bytes:
    """Scores as the ``Q`` reply carries them, then the end marker ``E``."""
    return _little(scores, score_bytes(p)) + bytes([END])


def parse_scores(data: bytes, count: int, p: Params) -> np.ndarray:
    """Inverse of :func:`encode_scores` for ``count`` scores (int64)."""
    size = score_bytes(p)
    if len(data) != count * size + 1 or data[-1] != END:
        raise ProtocolError(f"{count} scores of {size} bytes and 'E' expected, got "
                            f"{len(data)} bytes ending in {data[-1:].hex()}")
    return _from_little(data[:-1], size)


def status_reply(count: int, flags: int) -> bytes:
    return bytes([STATUS]) + count.to_bytes(COUNT_BYTES, "little") + bytes([flags])


def parse_status(data: bytes) -> tuple[int, int]:
    """``(count, flags)`` from an ``N`` reply."""
    if len(data) != 2 + COUNT_BYTES or data[0] != STATUS:
        raise ProtocolError(f"not a status reply: {data.hex()}")
    return int.from_bytes(data[1:-1], "little"), data[-1]


def resync_bytes(p: Params) -> bytes:
    """No-operations enough to complete any command the link may be in the middle of (a key
    or a query of zeros), after which the link waits for a command again."""
    return bytes(1 + p.d * coordinate_bytes(p))


class Device:
    """The link's behaviour in Python: bytes in, reply bytes out, scores from the golden model.

    :meth:`receive` takes any chunk of the byte stream and returns the replies it completes.
    A coordinate's bits above ``in_width`` are ignored, as the RTL ignores them.
    """

    def __init__(self, p: Params, lanes: int, signs):
        self.params, self.lanes, self.signs = p, lanes, np.asarray(signs, dtype=np.int64)
        self.keys: list[np.ndarray] = []
        self._pending = b""

    def _vector(self, payload: bytes) -> np.ndarray:
        p = self.params
        wide = _from_little(payload, coordinate_bytes(p))
        return (wide - p.in_min) % (1 << p.in_width) + p.in_min

    def _command(self) -> bytes | None:
        """The reply to the command at the head of the pending bytes; ``None`` if incomplete."""
        p, data = self.params, self._pending
        command = data[0]
        size = 1 + p.d * coordinate_bytes(p) if command in (WRITE_KEY, QUERY) else 1
        if len(data) < size:
            return None
        self._pending = data[size:]
        if command == NOP:
            return b""
        if command == IDENTIFY:
            return identity_reply(p, self.lanes, self.signs)
        if command == CLEAR:
            self.keys.clear()
            return bytes([CLEAR])
        if command == STATUS:
            return status_reply(len(self.keys), FULL if len(self.keys) == p.depth else 0)
        if command == WRITE_KEY:
            if len(self.keys) == p.depth:
                return bytes([STORE_FULL])
            self.keys.append(self._vector(data[1:size]))
            return bytes([WRITE_KEY])
        if command == QUERY:
            reply = query_header(len(self.keys))
            if not self.keys:
                return reply + bytes([END])
            stored = fixed.write_keys(np.stack(self.keys), self.signs, p)
            scores = fixed.scores(self._vector(data[1:size])[None], *stored, self.signs, p)[0]
            return reply + encode_scores(scores, p)
        return bytes([UNKNOWN])

    def receive(self, data: bytes) -> bytes:
        self._pending += bytes(data)
        replies = []
        while self._pending and (reply := self._command()) is not None:
            replies.append(reply)
        return b"".join(replies)
