"""A terminal as the server sees it: one WebSocket on /ws/terminal, spoken exactly as the iOS
app speaks it (CONTRACT.md, "WebSocket /ws/terminal").

One background task reads the socket (sim/websocket.py) and routes each frame: a `reply` to the
`command()` call waiting on its id, an `event` into the event log (which checks seqs are
gap-free and increasing), an `auth` answer to `auth()`. What the contract does not allow is recorded in
`anomalies`, not raised: under load the simulator must keep measuring and report it all.
"""

from __future__ import annotations

import json
import time
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, AsyncIterator, Callable

import trio

from fynlo.wire import encode, ws_url
from sim.errors import CommandFailed, HandshakeRefused, TerminalClosed
from sim.events import Anomaly, EventLog, OnEvent
from sim.replies import CommandTiming, PendingReplies
from sim.websocket import ClientSocket, Received

__all__ = ["CommandTiming", "TerminalClient", "ws_url"]

Frame = dict[str, Any]


def _decode(raw: str) -> Frame | None:
    """A server frame as a JSON object, or None when it is not one."""
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


_EVENT_PREFIX = '{"type":"event"'  # how the server's event frames begin (others are decoded as usual)


class SharedDecoder:
    """Decodes each event frame once for many terminals of one process.

    Every terminal of a venue receives the same event frames, byte for byte; a fleet of fifty
    decoding each one fifty times spent a third of the simulator's CPU in JSON, and the
    simulator shares the machine with the server it measures. The terminals that share a
    decoder share the decoded event too, so they must only read it (the load tools do).
    Replies and anything else are decoded as they come.
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._recent: dict[str, Frame | None] = {}

    def __call__(self, raw: str) -> Frame | None:
        if not raw.startswith(_EVENT_PREFIX):
            return _decode(raw)
        try:
            return self._recent[raw]
        except KeyError:
            if len(self._recent) >= self._size:
                self._recent.clear()
            frame = self._recent[raw] = _decode(raw)
            return frame


class TerminalClient:
    """A connected, welcomed terminal. Make one with `TerminalClient.connect(...)`."""

    def __init__(self, ws: ClientSocket, log: EventLog,
                 decode: Callable[[str], Frame | None] = _decode) -> None:
        self._ws = ws
        self._log = log
        self._decode = decode
        self._pending = PendingReplies()
        self._auth_lock = trio.Lock()
        self._backlog: list[str] = []  # frames read with the welcome, routed first
        self.venue_id = ""
        self.welcome_seq = 0
        self.server_time = ""
        self.timings: list[CommandTiming] = []
        self.auth_answers: list[Frame] = []
        self.stray_replies: list[Frame] = []  # replies no command() waits for (bad input, late)
        self._stray_cursor = 0
        # The log appends to these lists in place, so they are shared rather than copied.
        self.events: list[Frame] = log.events  # every event, in order (none if keep_events=False)
        self.event_times: list[float] = log.times  # perf_counter() at each event's receipt
        self.anomalies: list[Anomaly] = log.anomalies  # gaps, duplicates, frames not allowed

    @property
    def last_seq(self) -> int:
        """The highest event seq received (the welcome's seq before any event)."""
        return self._log.last_seq

    @property
    def event_count(self) -> int:
        """Events received, whether kept in `events` or not."""
        return self._log.count

    @property
    def closed(self) -> bool:
        """True once the socket has closed, from either side."""
        return self._log.closed

    @property
    def close_code(self) -> int | None:
        """The server's close code (1008: refused; 1013: too slow, reconnect with last_seq)."""
        return self._log.close_code

    @property
    def close_reason(self) -> str | None:
        return self._log.close_reason

    @classmethod
    @asynccontextmanager
    async def connect(cls, base_url: str, token: str, *, terminal_id: str | None = None,
                      last_seq: int | None = None, keep_events: bool = True,
                      on_event: OnEvent | None = None, timeout: float = 10.0, path: str = "/ws/terminal",
                      decoder: SharedDecoder | None = None) -> AsyncIterator[TerminalClient]:
        """Open /ws/terminal, say hello, wait for welcome, and read in the background until exit.

        `keep_events=False` keeps only counts and anomalies (a long load run would otherwise
        hold every venue payload once per terminal); `on_event(event, perf_counter_at)` still
        sees every event. Terminals given one `decoder` decode each event frame once between
        them (and share the decoded event, read-only).

        Raises:
            HandshakeRefused: the server closed the socket or refused the upgrade instead of
                sending welcome (close code 1008 with "unauthenticated: …" for a bad token).
            ServerUnreachable: nothing answered at `base_url`.
            trio.TooSlowError: no welcome within `timeout` seconds.
        Cancellation: safe; the socket is closed on the way out.
        """
        async with AsyncExitStack() as stack:
            ws = await ClientSocket.open(ws_url(base_url, path), timeout)
            stack.push_async_callback(ws.aclose)
            client = cls(ws, EventLog(keep_events=keep_events, on_event=on_event), decoder or _decode)
            await client._handshake(token, terminal_id, last_seq, timeout)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(client._read)
                    yield client
                    nursery.cancel_scope.cancel()
            except BaseExceptionGroup as group:  # the caller's own error, not wrapped by our nursery
                if len(group.exceptions) == 1:
                    raise group.exceptions[0] from None
                raise

    async def _handshake(self, token: str, terminal_id: str | None, last_seq: int | None, timeout: float) -> None:
        hello = {"type": "hello", "token": token, "terminal_id": terminal_id, "last_seq": last_seq}
        with trio.fail_after(timeout):
            try:
                await self._ws.send(encode(hello))
                first = (await self._ws.receive()).messages
            except TerminalClosed as exc:
                raise HandshakeRefused(exc.code, exc.reason or "closed without a reason") from None
        raw, self._backlog = first[0], first[1:]  # what came with the welcome: the replay's start
        frame = _decode(raw)
        if frame is None or frame.get("type") != "welcome":
            raise HandshakeRefused(None, f"expected a welcome frame, got {str(raw)[:200]}")
        self.venue_id = frame["venue_id"]
        self.welcome_seq = frame["seq"]
        self.server_time = frame.get("server_time", "")
        # The server replays from min(last_seq, current); the log expects the seq after that.
        self._log.start(frame["seq"] if last_seq is None else min(last_seq, frame["seq"]))

    async def _read(self) -> None:
        now = time.perf_counter()
        batch, self._backlog = Received(self._backlog, now, now), []
        try:
            while True:
                for raw in batch.messages:
                    self._route(raw, batch)
                batch = await self._ws.receive()
        except TerminalClosed as exc:
            self._log.close(exc.code, exc.reason)
            self._pending.fail_all()

    def _route(self, raw: str, batch: Received) -> None:
        frame = self._decode(raw) or {}
        kind = frame.get("type")
        if kind == "event":
            self._log.receive(frame, batch.arrived)  # which wakes the waiters itself
            return
        if kind == "reply":
            if not self._pending.deliver(frame, batch.arrived, batch.read):
                self.stray_replies.append(frame)
        elif kind == "auth":
            self.auth_answers.append(frame)
        else:
            self._log.anomalies.append(Anomaly("bad_frame", f"unexpected frame {str(raw)[:200]}"))
        self._log.tick()

    async def command_timed(self, name: str, args: dict[str, Any] | None = None, *, id: str | None = None,
                            timeout: float = 10.0) -> tuple[Frame, CommandTiming]:
        """Send one command and wait for its reply; also return when it left and came back.

        Raises:
            trio.TooSlowError: no reply within `timeout` (a late reply lands in `stray_replies`).
            TerminalClosed: the socket closed before the reply came.
        """
        command_id = id or str(uuid.uuid4())
        send, recv = self._pending.expect(command_id)
        timing = CommandTiming(name, command_id, time.perf_counter())
        self.timings.append(timing)
        frame = {"type": "command", "id": command_id, "name": name, "args": args or {}}
        try:
            with trio.fail_after(timeout):
                await self._ws.send(encode(frame))
                reply, timing.acked, timing.read = await recv.receive()
        except (TerminalClosed, trio.EndOfChannel):
            raise TerminalClosed(self.close_code, self.close_reason) from None
        finally:
            self._pending.forget(command_id, send)
        timing.woken = time.perf_counter()
        timing.ok = bool(reply.get("ok"))
        timing.code = None if timing.ok else (reply.get("error") or {}).get("code")
        return reply, timing

    async def command(self, name: str, args: dict[str, Any] | None = None, *, id: str | None = None,
                      timeout: float = 10.0) -> Frame:
        """Send one command; return its reply envelope, ok or not (see `command_timed`)."""
        reply, _ = await self.command_timed(name, args, id=id, timeout=timeout)
        return reply

    async def command_ok(self, name: str, args: dict[str, Any] | None = None, *, id: str | None = None,
                         timeout: float = 10.0) -> Any:
        """Send one command and return its `result`.

        Raises:
            CommandFailed: the reply was ok:false (its `error` is attached).
        """
        reply = await self.command(name, args, id=id, timeout=timeout)
        if not reply.get("ok"):
            raise CommandFailed(reply.get("error") or {})
        return reply.get("result")

    async def send_raw(self, text: str) -> None:
        """Send a frame exactly as given: for tests of what the server does with bad input."""
        try:
            await self._ws.send(text)
        except TerminalClosed:
            raise TerminalClosed(self.close_code, self.close_reason) from None

    async def auth(self, token: str, *, timeout: float = 10.0) -> Frame:
        """Switch who is signed in on this socket; return the server's `auth` answer (ok or not)."""
        async with self._auth_lock:
            before = len(self.auth_answers)
            await self.send_raw(encode({"type": "auth", "token": token}))
            await self._log.wait_until(lambda: len(self.auth_answers) > before, timeout)
            return self.auth_answers[before]

    async def next_event(self, timeout: float = 5.0) -> Frame:
        """The oldest event not yet taken by `next_event` (needs keep_events=True)."""
        return await self._log.next(timeout)

    async def wait_for_seq(self, seq: int, timeout: float = 5.0) -> None:
        """Wait until events up to `seq` have arrived."""
        await self._log.wait_until(lambda: self._log.last_seq >= seq, timeout)

    async def next_stray_reply(self, timeout: float = 5.0) -> Frame:
        """The oldest reply not yet taken that no command() was waiting for (after send_raw)."""
        await self._log.wait_until(lambda: len(self.stray_replies) > self._stray_cursor, timeout)
        self._stray_cursor += 1
        return self.stray_replies[self._stray_cursor - 1]
