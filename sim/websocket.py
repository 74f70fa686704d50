"""The simulator's WebSocket: wsproto over a Trio stream, read by the caller's own task.

trio-websocket (which the tests use to poke at the server) reads each socket in a task of its
own and hands every message through a channel to whoever reads it: two task switches per
frame. A fleet of fifty terminals receives some two thousand event frames a second and shares
two CPUs with the server it measures, so the simulator reads its sockets itself: one read,
every frame in it parsed and handed back at once, with the moment they came off the wire.
Text frames only (the contract's), no extensions offered, so every frame is plain.

Each read also says when its bytes reached this host (`receive`'s `arrived`): the kernel's
receive timestamp of the socket's newest data (SO_TIMESTAMPNS, Linux over plain TCP), else the
moment of the read. Fifty terminals share this process, so the reader of one may wait for the
frames of the other forty-nine; a terminal of its own would not, and the timestamp leaves that
wait out. Of data read together it is the newest segment's time, so it is never early.

Whole text frames, which is every event and reply, are taken apart here (`_plain_frames`):
wsproto's general parser was a quarter of the simulator's CPU. The first frame of any other
kind (a close, a ping, a fragment) and everything after it go to wsproto, which starts at
that frame's first byte: the handshake hands wsproto the response's headers only.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import sys
import time
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (AcceptConnection, CloseConnection, Ping, RejectConnection, RejectData, Request,
                            TextMessage)

from sim.errors import HandshakeRefused, ServerUnreachable, TerminalClosed

__all__ = ["ClientSocket", "Received"]

_READ = 256 * 1024
# Linux's SO_TIMESTAMPNS (<asm-generic/socket.h>; the same number names its control message):
# a struct timespec of CLOCK_REALTIME with each read. The socket module does not name it.
_SO_TIMESTAMPNS = 35 if sys.platform == "linux" else None
_TIMESPEC = struct.Struct("@qq")
_ANCILLARY = 64
_CLOSE_WAIT_S = 1.0
_TEXT_WHOLE = 0x81  # FIN, no RSV bits, opcode 1 (text)


def _timestamped(stream: trio.abc.Stream) -> socket.socket | None:
    """A second descriptor of the stream's socket, set to have its reads stamped by the
    kernel; None over TLS or where the kernel cannot (`receive` then uses the moment of the
    read). Reads wait for the socket first and then call `recvmsg` once: Trio's own
    `recvmsg` tries first, and a reader that has emptied its socket would pay a failed call
    and its exception for every frame."""
    sock = getattr(stream, "socket", None)
    if sock is None or _SO_TIMESTAMPNS is None:
        return None
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return None
    return socket.socket(fileno=os.dup(sock.fileno()))  # non-blocking, as the file it shares is


def _plain_frames(buffer: bytearray, into: deque[str]) -> tuple[int, bool]:
    """Take the whole, unmasked text frames at the start of `buffer` into `into`; return the
    bytes they used, and whether a frame of another kind (or not UTF-8) stopped the scan."""
    at, end = 0, len(buffer)
    while end - at >= 2:
        if buffer[at] != _TEXT_WHOLE or buffer[at + 1] & 0x80:
            return at, True
        length, head = buffer[at + 1], 2
        if length == 126:
            if end - at < 4:
                break
            length, head = struct.unpack_from("!H", buffer, at + 2)[0], 4
        elif length == 127:
            if end - at < 10:
                break
            length, head = struct.unpack_from("!Q", buffer, at + 2)[0], 10
        if end - at < head + length:
            break
        try:
            into.append(buffer[at + head:at + head + length].decode("utf-8"))
        except UnicodeDecodeError:
            return at, True
        at += head + length
    return at, False


def _arrival(ancillary: list[tuple[int, int, bytes]]) -> float:
    """When a read's data reached the host, in `time.perf_counter()` seconds: the kernel's
    timestamp among `ancillary`, carried over from the wall clock by its age; now if none."""
    now, wall = time.perf_counter(), time.time()
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return now - max(0.0, wall - (seconds + nanoseconds / 1e9))
    return now


@dataclass(frozen=True, slots=True)
class Received:
    """Whole messages, in order, with when the last of their bytes reached this host
    (`arrived`) and when this process read them (`read`), both `time.perf_counter()` seconds."""

    messages: list[str]
    arrived: float
    read: float


class ClientSocket:
    """One client WebSocket. Open with `ClientSocket.open(url)`; `aclose()` when done."""

    def __init__(self, stream: trio.abc.Stream, ws: WSConnection) -> None:
        self._stream = stream
        self._ws = ws
        self._timed = _timestamped(stream)  # the socket read directly, when the kernel stamps its reads
        self._arrived = 0.0                 # when the last read's data reached this host
        self._send_lock = trio.Lock()
        self._ready: deque[str] = deque()  # whole messages read but not yet taken
        self._partial: list[str] = []      # the fragments of a message still arriving
        self._closed: TerminalClosed | None = None
        self._unparsed = bytearray()       # read, not yet a whole frame
        self._plain = True                 # no frame but whole text ones yet: parsed here

    @classmethod
    async def open(cls, url: str, timeout: float = 10.0) -> ClientSocket:
        """Connect and upgrade.

        Raises:
            HandshakeRefused: the server refused the upgrade (its HTTP status and body).
            ServerUnreachable: no connection, or no answer to the upgrade within `timeout`.
        """
        parts = urlsplit(url)
        secure = parts.scheme == "wss"
        host, port = parts.hostname or "127.0.0.1", parts.port or (443 if secure else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            with trio.fail_after(timeout):
                if secure:
                    stream: trio.abc.Stream = await trio.open_ssl_over_tcp_stream(
                        host, port, ssl_context=ssl.create_default_context())
                else:
                    stream = await trio.open_tcp_stream(host, port)
                sock = cls(stream, WSConnection(ConnectionType.CLIENT))
                try:
                    await sock._upgrade(f"{host}:{port}", target)
                except BaseException:
                    sock._close_reader()
                    await trio.aclose_forcefully(stream)
                    raise
        except (OSError, trio.BrokenResourceError, trio.TooSlowError) as exc:
            raise ServerUnreachable(f"cannot open {url}: {exc!r}") from exc
        return sock

    async def _upgrade(self, host: str, target: str) -> None:
        """Send the upgrade request; wsproto reads the response's headers (and a refusal's
        body), and the frames that came with an acceptance are parsed from their first byte."""
        await self._stream.send_all(self._ws.send(Request(host=host, target=target)))
        received = bytearray()
        while (end := received.find(b"\r\n\r\n")) < 0:
            received += await self._read_or_fail()
        self._ws.receive_data(bytes(received[:end + 4]))
        rest = bytes(received[end + 4:])
        status, body = 0, bytearray()
        for event in self._ws.events():
            if isinstance(event, AcceptConnection):
                await self._parse(rest)
                return
            if isinstance(event, RejectConnection):
                status = event.status_code
                if not event.has_body:
                    raise HandshakeRefused(status, "")
        while True:  # the refusal's body
            if rest:  # (empty bytes would tell wsproto the connection ended)
                self._ws.receive_data(rest)
            for event in self._ws.events():
                if isinstance(event, RejectData):
                    body += event.data
                    if event.body_finished:
                        raise HandshakeRefused(status, body.decode(errors="replace"))
            rest = await self._read_or_fail()

    async def _read(self) -> bytes:
        """One read, noting when its data arrived (`_arrival`)."""
        if self._timed is None:
            data = await self._stream.receive_some(_READ)
            self._arrived = time.perf_counter()
            return bytes(data)
        while True:
            await trio.lowlevel.wait_readable(self._timed)
            try:
                data, ancillary, _, _ = self._timed.recvmsg(_READ, _ANCILLARY)
            except BlockingIOError:
                continue
            self._arrived = _arrival(ancillary)
            return data

    async def _read_or_fail(self) -> bytes:
        data = await self._read()
        if not data:
            raise trio.BrokenResourceError("the server closed the connection during the upgrade")
        return bytes(data)

    async def send(self, text: str) -> None:
        """Send one text message. Raises TerminalClosed."""
        if self._closed is not None:
            raise self._closed
        try:
            async with self._send_lock:
                await self._stream.send_all(self._ws.send(TextMessage(data=text)))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            # Not recorded: the reader may yet find the server's close frame and its code.
            raise TerminalClosed(1006, "the connection was lost") from None

    async def receive(self) -> Received:
        """The messages that have arrived, at least one, in order: all of one read at once.
        Raises TerminalClosed (the server's close code and reason; 1006 when the connection
        was lost) once every message before the close has been taken."""
        while not self._ready:
            if self._closed is not None:
                raise self._closed
            try:
                data = await self._read()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                raise self._lost() from None
            if not data:
                self._lost()
                continue
            await self._parse(data)
        taken = list(self._ready)
        self._ready.clear()
        return Received(taken, self._arrived, time.perf_counter())

    async def _parse(self, data: bytes) -> None:
        """Queue the messages `data` completes: here while every frame has been a whole text
        frame, by wsproto from the first that is not."""
        if self._plain:
            self._unparsed += data
            used, other = _plain_frames(self._unparsed, self._ready)
            del self._unparsed[:used]
            if not other:
                return
            self._plain = False
            data, self._unparsed = bytes(self._unparsed), bytearray()
        self._ws.receive_data(data)
        await self._answer(self._take(self._ws.events()))

    def _take(self, events: object) -> list[object]:
        """Queue the messages among `events`; return the control frames that need an answer."""
        control = []
        for event in events:  # type: ignore[attr-defined]
            if isinstance(event, TextMessage):
                self._partial.append(event.data)
                if event.message_finished:
                    self._ready.append("".join(self._partial))
                    self._partial.clear()
            elif isinstance(event, (Ping, CloseConnection)):
                control.append(event)
        return control

    async def _answer(self, control: list[object]) -> None:
        for event in control:
            if isinstance(event, CloseConnection):
                self._closed = TerminalClosed(event.code, event.reason)
            try:
                async with self._send_lock:  # a command may be sending on the same stream
                    await self._stream.send_all(self._ws.send(event.response()))  # type: ignore[attr-defined]
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass  # the next read finds the connection gone

    def _lost(self) -> TerminalClosed:
        if self._closed is None:
            self._closed = TerminalClosed(1006, "the connection was lost")
        return self._closed

    async def aclose(self, code: int = 1000) -> None:
        """Say goodbye (briefly: a server that does not answer is not waited for) and close."""
        with trio.move_on_after(_CLOSE_WAIT_S) as scope:
            scope.shield = True
            if self._closed is None:
                try:
                    async with self._send_lock:
                        await self._stream.send_all(self._ws.send(CloseConnection(code=code)))
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    pass
                self._closed = TerminalClosed(code, "closed by the client")
            self._close_reader()
            await self._stream.aclose()

    def _close_reader(self) -> None:
        """Close the second descriptor, waking a read waiting on it: until then it holds the
        connection open, whatever happens to the stream."""
        if self._timed is not None:
            trio.lowlevel.notify_closing(self._timed)
            self._timed.close()
            self._timed = None
