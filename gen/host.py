"""``axelram host``: a PC talking to the board's host link over a serial port.

:class:`Link` speaks :mod:`axelram.gen.protocol` over any object with pyserial's ``read``,
``write``, ``flush``, ``reset_input_buffer`` and ``timeout``; :func:`open_port` opens a real
port with pyserial (``pip install 'axelram[host]'``). :func:`run` is the whole session: resync,
identify, clear, write the keys, score the queries, compare with the golden model.
"""

import time

import numpy as np

from ..golden import fixed
from . import protocol
from .protocol import Identity, ProtocolError

__all__ = ["LinkError", "Link", "open_port", "run"]


class LinkError(Exception):
    """The board did not answer as the protocol says (no reply, a wrong reply, a full store)."""


def open_port(port: str, baud: int):
    """A pyserial port at ``baud``, 8N1; :class:`LinkError` when pyserial is missing or the port
    cannot be opened."""
    try:
        import serial
    except ImportError:
        raise LinkError("axelram host needs pyserial: pip install 'axelram[host]'") from None
    try:
        return serial.Serial(port, baud, timeout=1.0)
    except (serial.SerialException, ValueError) as error:
        raise LinkError(f"cannot open {port}: {error}") from None


class Link:
    """The protocol over ``port`` at ``baud`` (for read timeouts: every read may take twice
    the time its bytes need on the line, plus ``slack`` seconds)."""

    def __init__(self, port, baud: int, slack: float = 0.5):
        self.port, self.baud, self.slack = port, baud, slack

    def _read(self, count: int, what: str) -> bytes:
        self.port.timeout = self.slack + 20 * count / self.baud
        data = self.port.read(count)
        if len(data) != count:
            raise LinkError(f"{what}: the board sent {len(data)} of {count} bytes "
                            f"({data[:16].hex() or 'nothing'}); is it the AXELRAM bitstream, "
                            f"at {self.baud} baud?")
        return data

    def resync(self, quiet: float = 0.1):
        """Complete any command the link was left in (:func:`protocol.resync_bytes` for the
        largest macro), then discard everything until the line is quiet for ``quiet`` s."""
        self.port.write(bytes(1 + 1024 * 4))
        self.port.flush()
        self.port.timeout = quiet
        while self.port.read(4096):
            pass
        self.port.reset_input_buffer()

    def identify(self) -> Identity:
        self.port.write(bytes([protocol.IDENTIFY]))
        header = self._read(protocol.IDENTITY_HEADER, "identify")
        try:
            rest = self._read(protocol.identity_length(header) - len(header), "identify")
            return protocol.parse_identity(header + rest)
        except ProtocolError as error:
            raise LinkError(str(error)) from None

    def _expect(self, expected: bytes, what: str):
        got = self._read(len(expected), what)
        if got != expected:
            raise LinkError(f"{what}: the board answered {got.hex()}, expected {expected.hex()}")

    def clear(self):
        self.port.write(bytes([protocol.CLEAR]))
        self._expect(bytes([protocol.CLEAR]), "clear")

    def status(self) -> tuple[int, int]:
        self.port.write(bytes([protocol.STATUS]))
        return protocol.parse_status(self._read(2 + protocol.COUNT_BYTES, "status"))

    def write_keys(self, keys, p):
        """Write ``keys`` (integers, ``(N, d)``) back to back, then check one ``K`` per key."""
        self.port.write(b"".join(protocol.vector_command(protocol.WRITE_KEY, k, p)
                                 for k in keys))
        acks = self._read(len(keys), "write keys")
        if acks != bytes([protocol.WRITE_KEY]) * len(keys):
            first = next(i for i, a in enumerate(acks) if a != protocol.WRITE_KEY)
            raise LinkError(f"key {first} was answered {acks[first:first + 1]!r} instead of "
                            f"b'K' ({'store full' if acks[first] == protocol.STORE_FULL else ''})")

    def query(self, query, p) -> np.ndarray:
        """The board's scores of ``query`` against every stored key (int64)."""
        self.port.write(protocol.vector_command(protocol.QUERY, query, p))
        try:
            count = protocol.parse_query_header(self._read(1 + protocol.COUNT_BYTES, "query"))
            data = self._read(count * protocol.score_bytes(p) + 1, "query scores")
            return protocol.parse_scores(data, count, p)
        except ProtocolError as error:
            raise LinkError(str(error)) from None


def run(link: Link, keys: np.ndarray, queries: np.ndarray, identity: Identity,
        log=print) -> dict:
    """Clear the board, write ``keys`` and score ``queries`` (integers, ``(N, d)`` and
    ``(Q, d)``, in the macro's input range); compare with the golden model of ``identity``.

    Returns the board's scores ``(Q, N)``, the golden model's, and the timing.
    """
    p, signs = identity.params, np.asarray(identity.signs)
    start = time.perf_counter()
    link.clear()
    link.write_keys(keys, p)
    written = time.perf_counter()
    board = np.stack([link.query(q, p) for q in queries])
    done = time.perf_counter()
    count, flags = link.status()
    if count != len(keys) or flags & (protocol.OVERRUN | protocol.FRAMING):
        raise LinkError(f"status after the run: {count} keys stored (expected {len(keys)}), "
                        f"flags {flags:#04x} (overrun {bool(flags & protocol.OVERRUN)}, framing "
                        f"{bool(flags & protocol.FRAMING)})")
    golden = fixed.scores(queries, *fixed.write_keys(keys, signs, p), signs, p)
    log(f"{len(keys)} keys written in {written - start:.2f} s, {len(queries)} queries scored in "
        f"{done - written:.2f} s")
    return {"board": board, "golden": golden, "seconds": done - start}
