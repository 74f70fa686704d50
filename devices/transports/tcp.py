"""ESC/POS over raw TCP (port 9100, "JetDirect"), on Trio sockets with a deadline on every step.

Two things make a network printer hard to trust, and this module is about both:

* A printer can accept the connection and then never read (jammed, wedged firmware). Trio's
  ``send_all`` would wait for ever, so every send runs under the write timeout.
* ``send_all`` returning proves only that the bytes reached *our* kernel. On Linux we also
  wait, within the same write timeout, until the printer's TCP stack has acknowledged every
  byte (the socket's unacknowledged-bytes counter, ``SIOCOUTQ``, reaches zero) and check
  that no reset arrived meanwhile. A printer that stopped reading with its buffer full is
  then a ``DeviceTimeout`` rather than a silent success.
"""

from __future__ import annotations

import errno
import fcntl
import math
import os
import socket
import struct
import termios

import trio

from ..errors import DeviceOffline, DeviceTimeout

__all__ = ["TcpTransport"]

_SIOCOUTQ = getattr(termios, "TIOCOUTQ", None)  # same ioctl number on Linux; absent elsewhere
_DRAIN_POLL = 0.002, 0.02  # first and longest pause between checks of the send queue


class TcpTransport:
    """A connection to a network printer; one ``open``/``close`` per job is the intended use.

    Printers commonly serve one connection at a time and drop idle ones, so holding a
    connection between jobs buys little and blocks other clients.
    """

    def __init__(self, host: str, port: int = 9100, *, connect_timeout: float = 3.0,
                 write_timeout: float = 10.0) -> None:
        self.host, self.port = host, port
        self.connect_timeout, self.write_timeout = connect_timeout, write_timeout
        self._stream: trio.SocketStream | None = None

    def __repr__(self) -> str:
        return f"TcpTransport({self.host!r}, {self.port})"

    async def open(self) -> None:
        """Connect within ``connect_timeout``.

        Raises:
            DeviceOffline: refused, unreachable, or no answer in time (a powered-off printer
                on a LAN often just never answers the SYN).
        """
        await self.close()
        with trio.move_on_after(self.connect_timeout):
            try:
                self._stream = await trio.open_tcp_stream(self.host, self.port)
            except OSError as exc:
                raise DeviceOffline(f"{self!r}: cannot connect: {exc.strerror or exc}") from exc
            return
        raise DeviceOffline(f"{self!r}: no answer to connect within {self.connect_timeout}s")

    async def send(self, data: bytes) -> None:
        """Send ``data`` and wait for the printer to acknowledge it, within ``write_timeout``.

        Raises:
            DeviceTimeout: the printer stopped taking data.
            DeviceOffline: the connection was reset or closed by the printer.

        Cancellation: the connection is unusable afterwards; part of ``data`` may be out.
        """
        stream = self._require()
        with trio.move_on_after(self.write_timeout):
            try:
                await stream.send_all(data)
                await _drained(stream.socket)
            except (trio.BrokenResourceError, OSError) as exc:
                raise DeviceOffline(f"{self!r}: connection lost while sending: {exc}") from exc
            return
        raise DeviceTimeout(f"{self!r}: printer did not take the data within {self.write_timeout}s")

    async def receive(self, max_bytes: int, timeout: float | None) -> bytes:
        """Receive what the printer sends (status answers).

        Raises:
            DeviceTimeout: nothing within ``timeout``.
            DeviceOffline: the printer closed or reset the connection.
        """
        stream = self._require()
        with trio.move_on_after(math.inf if timeout is None else timeout):
            try:
                data = await stream.receive_some(max_bytes)
            except (trio.BrokenResourceError, OSError) as exc:
                raise DeviceOffline(f"{self!r}: connection lost: {exc}") from exc
            if not data:
                raise DeviceOffline(f"{self!r}: printer closed the connection")
            return data
        raise DeviceTimeout(f"{self!r}: no answer within {timeout}s")

    async def close(self) -> None:
        """Close the connection, ignoring whatever state the printer left it in."""
        stream, self._stream = self._stream, None
        if stream is not None:
            with trio.CancelScope(shield=True):
                await stream.aclose()

    def _require(self) -> trio.SocketStream:
        if self._stream is None:
            raise DeviceOffline(f"{self!r}: not open")
        return self._stream


async def _drained(sock: trio.socket.SocketType) -> None:
    """Return once the peer has acknowledged everything we sent; raise if it reset us."""
    pause, longest = _DRAIN_POLL
    while True:
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            raise ConnectionResetError(error, os.strerror(error))
        if _SIOCOUTQ is None or _unacknowledged(sock) == 0:
            return
        await trio.sleep(pause)
        pause = min(pause * 2, longest)


def _unacknowledged(sock: trio.socket.SocketType) -> int:
    try:
        raw = fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0")  # type: ignore[arg-type]
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.ENOTTY):  # not a TCP socket we can ask
            return 0
        raise
    return int(struct.unpack("i", raw)[0])
