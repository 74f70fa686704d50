"""WebSocket /ws/terminal: hello → welcome → missed events, then commands, replies and events."""

from __future__ import annotations

import logging
from typing import Awaitable, Callable

import trio
from quart import Blueprint, websocket

from fynlo.auth.principal import Principal, authenticate
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.printing.bridges import authenticate_bridge
from fynlo.errors import FynloError, Unauthenticated
from fynlo.events import venue_seq
from fynlo.web.context import Services, services
from fynlo.web.frames import FrameWriter
from fynlo.web.outbox import Outbox, SlowConsumer
from fynlo.wire import Auth, Command, ErrorCode, Hello, WireError, encode, parse_frame, reply_error, welcome

log = logging.getLogger("fynlo.ws")
bp = Blueprint("ws", __name__)

HELLO_TIMEOUT_S = 10.0
COMMANDS_IN_FLIGHT = 16

# Close codes: 1008 policy (bad hello, bad token), 1013 try again later (slow consumer).
POLICY, TRY_LATER = 1008, 1013


class _Close(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


Authenticate = Callable[[Database, Settings, str], Awaitable[Principal]]


async def _hello(svc: Services, authenticate_with: Authenticate) -> tuple[Hello, Principal]:
    with trio.move_on_after(HELLO_TIMEOUT_S):
        raw = await websocket.receive()
        try:
            frame = parse_frame(raw)
        except WireError as exc:
            raise _Close(POLICY, f"{ErrorCode.VALIDATION}: {exc.message}") from None
        if not isinstance(frame, Hello):
            raise _Close(POLICY, f"{ErrorCode.VALIDATION}: the first frame must be hello")
        try:
            principal = await authenticate_with(svc.db, svc.settings, frame.token)
        except Unauthenticated as exc:
            raise _Close(POLICY, f"{ErrorCode.UNAUTHENTICATED}: {exc.message}") from None
        if principal.terminal_id and frame.terminal_id and principal.terminal_id != frame.terminal_id:
            raise _Close(POLICY, f"{ErrorCode.FORBIDDEN}: the token belongs to another terminal")
        return frame, principal
    raise _Close(POLICY, f"{ErrorCode.VALIDATION}: no hello within {HELLO_TIMEOUT_S:.0f} s")


class _Session:
    """One signed-in socket: who is on it, and its outbox."""

    def __init__(self, svc: Services, principal: Principal, outbox: Outbox, authenticate: Authenticate) -> None:
        self.svc = svc
        self.authenticate = authenticate
        self.principal = principal
        self.outbox = outbox
        self.limit = trio.Semaphore(COMMANDS_IN_FLIGHT)

    async def handle(self, raw: str | bytes, nursery: trio.Nursery) -> None:
        try:
            frame = parse_frame(raw)
        except WireError as exc:
            self.outbox.reply(encode(reply_error(exc.command_id, ErrorCode.VALIDATION, exc.message, exc.details or None)))
            return
        if isinstance(frame, Command):
            await self.limit.acquire()
            nursery.start_soon(self._run, frame)
        elif isinstance(frame, Auth):
            await self._reauth(frame)
        else:
            self.outbox.reply(encode(reply_error(None, ErrorCode.VALIDATION, "hello was already received")))

    async def _run(self, command: Command) -> None:
        try:
            if self.principal.expired:
                reply = reply_error(command.id, ErrorCode.UNAUTHENTICATED, "token expired; send an auth frame")
            else:
                reply = await self.svc.extras["dispatcher"].execute(self.principal, command)
            self.outbox.reply(encode(reply))
        finally:
            self.limit.release()

    async def _reauth(self, frame: Auth) -> None:
        try:
            principal = await self.authenticate(self.svc.db, self.svc.settings, frame.token)
            if principal.venue_id != self.principal.venue_id:
                raise Unauthenticated("the token is for another venue")
        except FynloError as exc:
            self.outbox.reply(encode({"type": "auth", "ok": False, "error": exc.to_dict()}))
            return
        self.principal = principal
        self.outbox.reply(encode({"type": "auth", "ok": True, "staff_id": principal.staff_id,
                                  "role": str(principal.role)}))


@bp.websocket("/ws/terminal")
async def terminal() -> None:
    await _socket(authenticate)


@bp.websocket("/ws/bridge")
async def bridge() -> None:
    """The venue bridge: the same frames, signed in with its device token."""
    await _socket(authenticate_bridge)


async def _socket(auth: Authenticate) -> None:
    svc = services()
    await websocket.accept()
    try:
        await _serve(svc, auth)
    except _Close as close:
        await websocket.close(close.code, close.reason[:120])


async def _serve(svc: Services, auth: Authenticate) -> None:
    hello, principal = await _hello(svc, auth)
    venue_id = principal.venue_id
    current = await svc.db.run(lambda conn: venue_seq(conn, venue_id))
    start = min(hello.last_seq if hello.last_seq is not None else current, current)
    outbox = Outbox(svc.db, venue_id, start, svc.settings.send_queue_size)
    outbox.reply(encode(welcome(venue_id, current)))
    hub = svc.extras["hub"]
    await hub.join(outbox)
    outbox.offer(current, None)  # replay what the terminal missed, then carry on live
    session = _Session(svc, principal, outbox, auth)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_pump, outbox, nursery.cancel_scope)
            while True:
                raw = await websocket.receive()
                await session.handle(raw, nursery)
    finally:
        hub.leave(outbox)
    if outbox.overflowed:
        raise _Close(TRY_LATER, "slow consumer: reconnect with your last seq")


async def _pump(outbox: Outbox, scope: trio.CancelScope) -> None:
    """Send the outbox; when it overflows, end the whole session (the caller closes)."""
    try:
        await outbox.pump(FrameWriter(websocket.scope, websocket.send))
    except SlowConsumer:
        scope.cancel()
