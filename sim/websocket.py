"""The simulator's WebSocket: wsproto over a Trio stream, read by the caller's own task.

trio-websocket (which the tests use to poke at the server) reads each socket in a task of its
own and hands every message through a channel to whoever reads it: two task switches per
frame. A fleet of fifty terminals receives some two thousand event frames a second and shares
two CPUs with the server it measures, so the simulator reads its sockets itself: one read,
every frame in it parsed and handed back at once, with the moment they came off the wire.
Text frames only (the contract's), no extensions offered, so every frame is plain.
"""

from __future__ import annotations

import ssl
from collections import deque
from urllib.parse import urlsplit

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (AcceptConnection, CloseConnection, Ping, RejectConnection, RejectData, Request,
                            TextMessage)

__all__ = ["ClientSocket", "Closed", "Rejected", "Unreachable"]

_READ = 256 * 1024
_CLOSE_WAIT_S = 1.0


class Closed(Exception):
    """The socket closed: by the server (its close code and reason) or under us (1006)."""

    def __init__(self, code: int | None, reason: str | None) -> None:
        super().__init__(f"closed ({code}): {reason}")
        self.code = code
        self.reason = reason


class Rejected(Exception):
    """The server answered the upgrade with an HTTP status other than 101."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"upgrade refused with HTTP {status}")
        self.status = status
        self.body = body


class Unreachable(Exception):
    """No connection could be made (nothing listening, a reset, a timeout)."""


class ClientSocket:
    """One client WebSocket. Open with `ClientSocket.open(url)`; `aclose()` when done."""

    def __init__(self, stream: trio.abc.Stream, ws: WSConnection) -> None:
        self._stream = stream
        self._ws = ws
        self._send_lock = trio.Lock()
        self._ready: deque[str] = deque()  # whole messages read but not yet taken
        self._partial: list[str] = []      # the fragments of a message still arriving
        self._closed: Closed | None = None

    @classmethod
    async def open(cls, url: str, timeout: float = 10.0) -> ClientSocket:
        """Connect and upgrade.

        Raises:
            Rejected: the server refused the upgrade. Unreachable: no connection (or no
            answer to the upgrade within `timeout`).
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
                await sock._upgrade(f"{host}:{port}", target)
        except (OSError, trio.BrokenResourceError, trio.TooSlowError) as exc:
            raise Unreachable(f"cannot open {url}: {exc!r}") from exc
        return sock

    async def _upgrade(self, host: str, target: str) -> None:
        await self._stream.send_all(self._ws.send(Request(host=host, target=target)))
        status, body = 0, bytearray()
        while True:
            data = await self._stream.receive_some(_READ)
            if not data:
                raise trio.BrokenResourceError("the server closed the connection during the upgrade")
            self._ws.receive_data(data)
            for event in self._ws.events():
                if isinstance(event, AcceptConnection):
                    await self._answer(self._take(self._ws.events()))  # frames in the same read
                    return
                if isinstance(event, RejectConnection):
                    status = event.status_code
                    if not event.has_body:
                        raise Rejected(status, b"")
                elif isinstance(event, RejectData):
                    body += event.data
                    if event.body_finished:
                        raise Rejected(status, bytes(body))

    async def send(self, text: str) -> None:
        """Send one text message. Raises Closed."""
        if self._closed is not None:
            raise self._closed
        try:
            async with self._send_lock:
                await self._stream.send_all(self._ws.send(TextMessage(data=text)))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            raise self._lost() from None

    async def receive(self) -> list[str]:
        """The messages that have arrived, at least one, in order: all of one read at once.
        Raises Closed once every message before the close has been taken."""
        while not self._ready:
            if self._closed is not None:
                raise self._closed
            try:
                data = await self._stream.receive_some(_READ)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                raise self._lost() from None
            if not data:
                self._lost()
                continue
            self._ws.receive_data(data)
            await self._answer(self._take(self._ws.events()))
        taken = list(self._ready)
        self._ready.clear()
        return taken

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
                self._closed = Closed(event.code, event.reason)
            try:
                await self._stream.send_all(self._ws.send(event.response()))  # type: ignore[attr-defined]
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                self._lost()

    def _lost(self) -> Closed:
        if self._closed is None:
            self._closed = Closed(1006, "the connection was lost")
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
                self._closed = Closed(code, "closed by the client")
            await self._stream.aclose()
