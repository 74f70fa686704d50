"""The bridge's one WebSocket to the server: dial out, sign in, stay connected.

The bridge dials out to ``/ws/bridge`` (so it works behind the venue's NAT), says hello with
its device token and the last event seq its spool saw, and then carries commands (with their
replies) and the venue's events. When the socket drops it dials again after an exponential
backoff with jitter, so a venue of bridges coming back after a server restart does not
arrive all at once. A hello the server refuses (close 1008, ``unauthenticated: …``: a revoked
or mistyped token) will not get better by retrying quickly: that is logged loudly and the
bridge retries at the slowest pace until someone pairs it again.

What the bridge does with the link (pull jobs, report outcomes) is ``bridge/courier.py``'s.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import trio
from trio_websocket import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from bridge._config_model import Timing
from bridge.errors import CommandRejected, LinkDown, LinkError, Refused
from bridge.spool import Spool
from fynlo.wire import encode, ws_url

__all__ = ["Link", "LinkState", "LinkStatus"]

log = logging.getLogger("fynlo.bridge.link")

Frame = dict[str, Any]
POLICY_CLOSE = 1008          # the server's close code for a refused hello
CONNECT_TIMEOUT_S = 10.0
KEEPALIVE_S, PONG_TIMEOUT_S = 20.0, 10.0   # NAT boxes drop silent connections without a word
SAVE_SEQ_EVERY_S = 1.0
MAX_REPLY_BYTES = 32 * 1024 * 1024   # a page of job.pending carries whole documents


class LinkState(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"      # dropped or unreachable: dialling again after a backoff
    REFUSED = "refused"      # the server refused the token: pair the bridge again


@dataclass(frozen=True, slots=True)
class LinkStatus:
    state: LinkState
    detail: str = ""
    since: float = 0.0


class Link:
    """The connection, kept up by ``run()``; ``call()`` sends a command and returns its result.

    ``on_online`` runs after each welcome; ``on_event`` for each event frame (replayed ones
    too). Both are plain callbacks: they should only note work for other tasks.
    """

    def __init__(self, server: str, token: str, spool: Spool, timing: Timing, *,
                 on_online: Callable[[], None], on_event: Callable[[Frame], None],
                 command_timeout: float = 10.0) -> None:
        self.url = ws_url(server, "/ws/bridge")
        self._token, self._spool, self._timing = token, spool, timing
        self._on_online, self._on_event = on_online, on_event
        self.command_timeout = command_timeout
        self.status = LinkStatus(LinkState.CONNECTING, since=time.monotonic())
        self._changed = trio.Event()
        self._ws: WebSocketConnection | None = None
        self._waiting: dict[str, trio.MemorySendChannel[Frame]] = {}
        self._seq: int | None = None
        self._saved_seq: int | None = None
        self._failures = 0

    def _set(self, state: LinkState, detail: str = "") -> None:
        self.status = LinkStatus(state, detail, time.monotonic())
        self._changed.set()
        self._changed = trio.Event()

    async def wait_online(self) -> None:
        """Return once the link is up (at once if it is)."""
        while self._ws is None:
            await self._changed.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the link up for ever (until cancelled).

        Cancellation: the socket is closed and the last seen event seq saved.
        """
        self._seq = self._saved_seq = await self._spool.last_seq()
        task_status.started()
        while True:
            if self.status.state is not LinkState.REFUSED:   # "refused" stands until a welcome
                self._set(LinkState.CONNECTING)
            try:
                await self._session()
                delay = self._backoff()
            except Refused as exc:
                self._set(LinkState.REFUSED, exc.reason)
                delay = self._timing.reconnect_max
                log.error("the server refused this bridge's token (%s). Pair the bridge again with a new "
                          "token (docs/operations.md); trying again every %g s", exc.reason, delay)
            except LinkError as exc:
                delay = self._backoff()
                self._set(LinkState.OFFLINE, str(exc))
                log.warning("link to %s down: %s; dialling again in %.1f s", self.url, exc, delay)
            await trio.sleep(delay)

    def _backoff(self) -> float:
        """Doubling from ``reconnect_min`` to ``reconnect_max``, each wait drawn from its upper half."""
        ceiling = min(self._timing.reconnect_max, self._timing.reconnect_min * 2 ** self._failures)
        self._failures += 1
        return random.uniform(ceiling / 2, ceiling)

    async def _session(self) -> None:
        try:
            async with open_websocket_url(self.url, connect_timeout=CONNECT_TIMEOUT_S, disconnect_timeout=2.0,
                                          max_message_size=MAX_REPLY_BYTES) as ws:
                await self._hello(ws)
                self._ws, self._failures = ws, 0
                self._set(LinkState.ONLINE)
                log.info("link up: %s", self.url)
                self._on_online()
                try:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._keepalive, ws, nursery.cancel_scope)
                        nursery.start_soon(self._save_seq_every_second)
                        await self._read(ws)
                        nursery.cancel_scope.cancel()
                finally:
                    self._ws = None
                    for channel in self._waiting.values():
                        channel.close()
                    with trio.CancelScope(shield=True):
                        await self._save_seq()
        except HandshakeError as exc:
            raise LinkDown(f"cannot open {self.url}: {exc.__cause__ or exc}") from None
        except OSError as exc:
            raise LinkDown(f"cannot reach {self.url}: {exc}") from None
        raise LinkDown("the connection closed")

    async def _hello(self, ws: WebSocketConnection) -> None:
        hello = {"type": "hello", "token": self._token, "terminal_id": None, "last_seq": self._seq}
        try:
            with trio.fail_after(CONNECT_TIMEOUT_S):
                await ws.send_message(encode(hello))
                frame = _decode(await ws.get_message())
        except ConnectionClosed as exc:
            code, reason = (exc.reason.code, exc.reason.reason or "") if exc.reason else (None, "")
            if code == POLICY_CLOSE:
                raise Refused(code, reason) from None
            raise LinkDown(f"closed during hello ({code}): {reason}") from None
        except trio.TooSlowError:
            raise LinkDown(f"no welcome within {CONNECT_TIMEOUT_S:.0f} s") from None
        if frame.get("type") != "welcome":
            raise LinkDown(f"expected a welcome, got {str(frame)[:200]}")
        if self._seq is None:
            self._seq = int(frame.get("seq") or 0)

    async def _read(self, ws: WebSocketConnection) -> None:
        """Route frames until the socket closes (returns then; the caller decides what next)."""
        try:
            while True:
                frame = _decode(await ws.get_message())
                kind = frame.get("type")
                if kind == "reply":
                    channel = self._waiting.pop(str(frame.get("id")), None)
                    if channel is not None:
                        channel.send_nowait(frame)
                elif kind == "event":
                    if isinstance(frame.get("seq"), int):
                        self._seq = max(self._seq or 0, frame["seq"])
                    self._on_event(frame)
        except ConnectionClosed as exc:
            log.info("socket closed: %s", exc.reason)

    async def _keepalive(self, ws: WebSocketConnection, scope: trio.CancelScope) -> None:
        while True:
            await trio.sleep(KEEPALIVE_S)
            with trio.move_on_after(PONG_TIMEOUT_S) as waited:
                try:
                    await ws.ping()
                except ConnectionClosed:
                    return
            if waited.cancelled_caught:
                log.warning("no pong within %.0f s: the connection is dead", PONG_TIMEOUT_S)
                scope.cancel()
                return

    async def _save_seq_every_second(self) -> None:
        while True:
            await trio.sleep(SAVE_SEQ_EVERY_S)
            await self._save_seq()

    async def _save_seq(self) -> None:
        """Saved now and then, not per event: a lost seq only costs a longer replay, since
        every connection begins with ``job.pending`` anyway."""
        seq = self._seq
        if seq is not None and seq != self._saved_seq:
            await self._spool.save_last_seq(seq)
            self._saved_seq = seq

    async def call(self, name: str, args: dict[str, Any] | None = None, *, timeout: float | None = None) -> Any:
        """Send command ``name`` and return its result.

        Raises:
            LinkDown: not connected, the socket closed, or no reply within ``timeout``.
            CommandRejected: the server answered ok:false.
        """
        ws = self._ws
        if ws is None:
            raise LinkDown(f"{name}: not connected ({self.status.state})")
        command_id = str(uuid.uuid4())
        send, receive = trio.open_memory_channel[Frame](1)
        self._waiting[command_id] = send
        limit = self.command_timeout if timeout is None else timeout
        try:
            with trio.move_on_after(limit):
                await ws.send_message(encode({"type": "command", "id": command_id, "name": name, "args": args or {}}))
                reply = await receive.receive()
                if not reply.get("ok"):
                    rejected = CommandRejected(name, reply.get("error") or {})
                    if rejected.code == "unauthenticated":   # revoked while connected: let the
                        await ws.aclose()                     # next hello say so (close 1008)
                    raise rejected
                return reply.get("result")
        except (ConnectionClosed, trio.EndOfChannel):
            raise LinkDown(f"{name}: the connection closed before the reply") from None
        finally:
            self._waiting.pop(command_id, None)
        raise LinkDown(f"{name}: no reply within {limit:g} s")


def _decode(raw: str | bytes) -> Frame:
    try:
        frame = json.loads(raw)
    except ValueError:
        return {}
    return frame if isinstance(frame, dict) else {}
