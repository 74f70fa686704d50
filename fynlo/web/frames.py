"""Writing a socket's waiting frames in one transport write.

Every `websocket.send` through quart and hypercorn is its own trip through the framework and
its own socket write: two Trio scheduler passes and about 45 µs of the server's CPU on the
development machine, for each frame to each terminal (bench/framecost.py). Event fan-out is
most of what the server does, so the outbox hands over everything waiting for a socket at
once (`Outbox.pump`), and this writer encodes those frames with the connection's own wsproto
state and writes the bytes with one call to hypercorn's stream: ≈ 8 µs a frame in batches of
five.

That call is below ASGI: `capture_send` (an ASGI middleware) keeps hypercorn's `send`
of each WebSocket in its scope, and the writer uses it only when it is a hypercorn `WSStream`
in the connected state, doing what that stream's own `websocket.send` does, frame for frame.
Under any other server the writer falls back to one ASGI message per frame. The test
`tests/test_frames.py` checks that the fast path is the one taken with the hypercorn we pin.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Sequence

from hypercorn.protocol.events import Data
from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream
from wsproto.events import TextMessage
from wsproto.utilities import LocalProtocolError

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
SendOne = Callable[[str], Awaitable[None]]

_SCOPE_KEY = "fynlo.asgi_send"


def capture_send(app: ASGIApp) -> ASGIApp:
    """Wrap an ASGI app so that each WebSocket scope carries the server's `send` callable."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "websocket":
            scope[_SCOPE_KEY] = send
        await app(scope, receive, send)

    return wrapped


class FrameWriter:
    """Sends text frames to one accepted WebSocket, as few writes as possible."""

    def __init__(self, scope: dict[str, Any], send_one: SendOne) -> None:
        stream = getattr(scope.get(_SCOPE_KEY), "__self__", None)
        self._stream: WSStream | None = stream if isinstance(stream, WSStream) else None
        self._send_one = send_one

    @property
    def batched(self) -> bool:
        """Whether frames go out several per write (hypercorn's stream was found)."""
        return self._stream is not None

    async def send(self, frames: Sequence[str]) -> None:
        stream = self._stream
        if stream is None:
            for frame in frames:
                await self._send_one(frame)
            return
        # As hypercorn's `WSStream.app_send` does for "websocket.send": nothing once closed.
        if stream.closed or stream.state != ASGIWebsocketState.CONNECTED:
            return
        try:
            data = b"".join(stream.connection.send(TextMessage(data=frame)) for frame in frames)
        except LocalProtocolError:  # the close handshake has begun
            return
        await stream.send(Data(stream_id=stream.stream_id, data=data))
