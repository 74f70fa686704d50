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

# Frames encoded for every plain socket: the events of the last few fan-outs.
_ENCODED_KEPT = 256
_encoded: dict[str, bytes] = {}
_plain = FrameProtocol(client=False, extensions=[])  # holds no state between whole messages


def _shared_frame(frame: str) -> bytes:
    """`frame` as a complete, unmasked text frame without extensions."""
    try:
        return _encoded[frame]
    except KeyError:
        if len(_encoded) >= _ENCODED_KEPT:
            _encoded.clear()
        data = _encoded[frame] = bytes(_plain.send_data(frame, fin=True))
        return data


def capture_send(app: ASGIApp) -> ASGIApp:
    """Wrap an ASGI app so that each WebSocket scope carries the server's `send` callable."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "websocket":
            scope[_SCOPE_KEY] = send
        await app(scope, receive, send)

    return wrapped


def _plain_tcp(stream: WSStream) -> TCPServer | None:
    """The hypercorn connection under `stream` (WSStream → H11Protocol → TCPServer), if it is
    a plain TCP socket; None over TLS or if hypercorn's layers are not the ones we know."""
    h11 = getattr(stream.send, "__self__", None)
    tcp = getattr(getattr(h11, "send", None), "__self__", None)
    if isinstance(tcp, TCPServer) and isinstance(tcp.stream, trio.SocketStream) and isinstance(tcp.send_lock, trio.Lock):
        return tcp
    return None


class FrameWriter:
    """Sends text frames to one accepted WebSocket, as few writes as possible."""

    def __init__(self, scope: dict[str, Any], send_one: SendOne) -> None:
        stream = getattr(scope.get(_SCOPE_KEY), "__self__", None)
        self._stream: WSStream | None = stream if isinstance(stream, WSStream) else None
        self._tcp = _plain_tcp(self._stream) if self._stream is not None else None
        # wsproto keeps the extensions the handshake enabled on its frame protocol.
        proto = getattr(getattr(self._stream, "connection", None), "_proto", None)
        self._shared = getattr(proto, "extensions", None) == []
        self._send_one = send_one

    @property
    def batched(self) -> bool:
        """Whether frames go out several per write (hypercorn's stream was found)."""
        return self._stream is not None

    @property
    def direct(self) -> bool:
        """Whether the writes go straight to the socket (a plain TCP connection under hypercorn)."""
        return self._tcp is not None

    async def send(self, frames: Sequence[str]) -> None:
        stream = self._stream
        if stream is None:
            for frame in frames:
                await self._send_one(frame)
            return
        # As hypercorn's `WSStream.app_send` does for "websocket.send": nothing once closed.
        if stream.closed or stream.state != ASGIWebsocketState.CONNECTED:
            return
        if self._shared:
            if stream.connection.state != ConnectionState.OPEN:  # the close handshake has begun
                return
            data = b"".join(_shared_frame(frame) for frame in frames)
        else:
            try:
                data = b"".join(stream.connection.send(TextMessage(data=frame)) for frame in frames)
            except LocalProtocolError:  # the close handshake has begun
                return
        rest = await self._write(data) if self._tcp is not None else data
        if rest:
            await stream.send(Data(stream_id=stream.stream_id, data=rest))

    async def _write(self, data: bytes) -> bytes:
        """Write `data` to the socket under the connection's send lock; return what is left
        for hypercorn's own path (nothing, unless the socket failed)."""
        tcp = self._tcp
        assert tcp is not None
        lock = tcp.send_lock
        try:
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        try:
            try:
                sent = os.write(tcp.stream.socket.fileno(), data)
            except BlockingIOError:
                sent = 0
            except OSError:  # closed or reset: hypercorn's path notices and closes the stream
                return data
            if sent < len(data):
                with trio.CancelScope(shield=True):
                    try:
                        await tcp.stream.send_all(memoryview(data)[sent:])
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        await tcp.protocol.handle(Closed())  # what hypercorn does on this error
            return b""
        finally:
            lock.release()
