"""Writing a socket's waiting frames in one write, straight to the socket.

Every `websocket.send` through quart and hypercorn is its own trip through the framework and
its own socket write: two Trio scheduler passes and about 45 µs of the server's CPU on the
development machine, for each frame to each terminal (bench/framecost.py). Event fan-out is
most of what the server does, so the outbox hands over everything waiting for a socket at
once (`Outbox.pump`), and this writer encodes those frames and writes the bytes itself. A
server's frames are not masked, so without an extension (the terminals offer none) an event's
frame is the same bytes on every socket: they are encoded once, by wsproto, and shared
(`_shared_frame`); a connection that negotiated compression encodes with its own state.

That is below ASGI: `capture_send` (an ASGI middleware) keeps hypercorn's `send` of each
WebSocket in its scope, and the writer uses it only when it is a hypercorn `WSStream` in the
connected state, doing what that stream's own `websocket.send` does, frame for frame. Over a
plain TCP socket it goes one step further down and does what hypercorn's `TCPServer` does
with the bytes: under that connection's own send lock (so hypercorn's pongs and close frames
never interleave with ours), one non-blocking write, and only what the socket would not take
at once goes through Trio's `send_all`, shielded as hypercorn shields it. That skips three
layers of hypercorn and a scheduler pass per write, which is half of what a frame cost. Over
TLS, or on any error from the socket, the bytes go through hypercorn's stream as before, and
under any other server the writer falls back to one ASGI message per frame. The test
`tests/test_frames.py` checks which path is taken with the hypercorn we pin.
"""

from __future__ import annotations

import os
from typing import Any, Awaitable, Callable, Sequence

import trio
from hypercorn.events import Closed
from hypercorn.protocol.events import Data
from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream
from hypercorn.trio.tcp_server import TCPServer
from wsproto.connection import ConnectionState
from wsproto.events import TextMessage
from wsproto.frame_protocol import FrameProtocol
from wsproto.utilities import LocalProtocolError

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
SendOne = Callable[[str], Awaitable[None]]

_SCOPE_KEY = "fynlo.asgi_send"


class _SharedFrames:
    """Frames encoded once for every plain socket: complete, unmasked text frames without
    extensions. An event's is reused for each socket of its fan-out; a reply passes through
    once. The last few are kept, and forgotten all at once when there are `most` or they hold
    `most_bytes` (a menu's reply is large)."""

    def __init__(self, most: int = 256, most_bytes: int = 4 * 1024 * 1024) -> None:
        self._most, self._most_bytes = most, most_bytes
        self._frames: dict[str, bytes] = {}
        self._bytes = 0
        self._encoder = FrameProtocol(client=False, extensions=[])  # no state between whole messages

    def __call__(self, frame: str) -> bytes:
        try:
            return self._frames[frame]
        except KeyError:
            if len(self._frames) >= self._most or self._bytes >= self._most_bytes:
                self._frames.clear()
                self._bytes = 0
            data = self._frames[frame] = bytes(self._encoder.send_data(frame, fin=True))
            self._bytes += len(data)
            return data


_shared_frame = _SharedFrames()


def capture_send(app: ASGIApp) -> ASGIApp:
    """Wrap an ASGI app so that each WebSocket scope carries the server's `send` callable."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "websocket":
            scope[_SCOPE_KEY] = send
        await app(scope, receive, send)

    return wrapped


def _claim_plain_tcp(stream: WSStream) -> TCPServer | None:
    """The hypercorn connection under `stream` (WSStream → H11Protocol → TCPServer), if it is
    a plain TCP socket; None over TLS or if hypercorn's layers are not the ones we know.

    Its send lock becomes a semaphore of one. Hypercorn only ever takes it with `async with`,
    for which the two are the same, but a semaphore has no owner: a write begun by one task
    (`FrameWriter.send_now`, from the hub's) can be finished by another (the pump's)."""
    h11 = getattr(stream.send, "__self__", None)
    tcp = getattr(getattr(h11, "send", None), "__self__", None)
    if not (isinstance(tcp, TCPServer) and isinstance(tcp.stream, trio.SocketStream)
            and isinstance(tcp.send_lock, trio.Lock) and not tcp.send_lock.locked()):
        return None
    tcp.send_lock = trio.Semaphore(1)  # type: ignore[assignment]
    return tcp


def _connected(stream: WSStream, *, shared: bool = True) -> bool:
    """Whether frames may go out: nothing once closed, as hypercorn's `WSStream.app_send`
    does for "websocket.send". A shared frame also needs wsproto's connection open (its own
    encoding checks that itself, for a connection with an extension)."""
    if stream.closed or stream.state != ASGIWebsocketState.CONNECTED:
        return False
    return not shared or stream.connection.state == ConnectionState.OPEN


class FrameWriter:
    """Sends text frames to one accepted WebSocket, as few writes as possible."""

    def __init__(self, scope: dict[str, Any], send_one: SendOne) -> None:
        stream = getattr(scope.get(_SCOPE_KEY), "__self__", None)
        self._stream: WSStream | None = stream if isinstance(stream, WSStream) else None
        self._tcp = _claim_plain_tcp(self._stream) if self._stream is not None else None
        # wsproto keeps the extensions the handshake enabled on its frame protocol.
        proto = getattr(getattr(self._stream, "connection", None), "_proto", None)
        self._shared = getattr(proto, "extensions", None) == []
        self._send_one = send_one
        self._owed: memoryview | None = None  # the rest of a frame `send_now` began

    @property
    def batched(self) -> bool:
        """Whether frames go out several per write (hypercorn's stream was found)."""
        return self._stream is not None

    @property
    def direct(self) -> bool:
        """Whether the writes go straight to the socket (a plain TCP connection under hypercorn)."""
        return self._tcp is not None

    @property
    def owing(self) -> bool:
        """`send_now` began a frame the socket did not take whole: `send` finishes it first."""
        return self._owed is not None

    def send_now(self, frames: Sequence[str]) -> bool:
        """Write `frames` without waiting, in one write, if this is a plain socket that nothing
        else is writing to; what the socket does not take at once is owed (`owing`), and the
        send lock stays taken until `send` has finished it. False: nothing was written; use
        `send`."""
        stream, tcp = self._stream, self._tcp
        if stream is None or tcp is None or not self._shared or self._owed is not None or not _connected(stream):
            return False
        try:
            tcp.send_lock.acquire_nowait()
        except trio.WouldBlock:
            return False
        return self._begin(tcp, b"".join(map(_shared_frame, frames)))  # one frame: its shared bytes, not a copy

    async def send(self, frames: Sequence[str]) -> None:
        if self._owed is not None:
            await self._finish()
        stream = self._stream
        if stream is None:
            for frame in frames:
                await self._send_one(frame)
            return
        if not frames or not _connected(stream, shared=self._shared):
            return
        if self._shared:
            data = b"".join(map(_shared_frame, frames))
        else:
            try:
                data = b"".join(stream.connection.send(TextMessage(data=frame)) for frame in frames)
            except LocalProtocolError:  # the close handshake has begun
                return
        if self._tcp is not None and await self._write(self._tcp, data):
            return
        await stream.send(Data(stream_id=stream.stream_id, data=data))

    async def _write(self, tcp: TCPServer, data: bytes) -> bool:
        """Write `data` under the connection's send lock; False if the socket failed (then
        hypercorn's own path, which notices and closes the stream, gets it)."""
        lock = tcp.send_lock
        try:
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        if not self._begin(tcp, data):
            return False
        if self._owed is not None:
            await self._finish()
        return True

    def _begin(self, tcp: TCPServer, data: bytes) -> bool:
        """With the send lock taken: one non-blocking write. What the socket did not take is
        owed, and the lock kept for `_finish`; else the lock is let go. False: the socket
        failed and nothing was written."""
        try:
            sent = os.write(tcp.stream.socket.fileno(), data)
        except BlockingIOError:
            sent = 0
        except OSError:  # closed or reset
            tcp.send_lock.release()
            return False
        if sent < len(data):
            self._owed = memoryview(data)[sent:]
        else:
            tcp.send_lock.release()
        return True

    async def _finish(self) -> None:
        """Send what is owed through Trio, shielded as hypercorn shields its writes (half a
        frame must not be followed by anything else), then let the send lock go."""
        tcp, owed, self._owed = self._tcp, self._owed, None
        assert tcp is not None and owed is not None
        try:
            with trio.CancelScope(shield=True):
                await tcp.stream.send_all(owed)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            await tcp.protocol.handle(Closed())  # what hypercorn does on this error
        finally:
            tcp.send_lock.release()
