"""The wire envelope: every WebSocket frame and the HTTP command body (CONTRACT.md, "The wire").

Pure: no I/O and nothing else of fynlo, so the bridge and the simulators can import it.

Client frames:  hello {token, terminal_id, last_seq} · auth {token} · command {id, name, args}
Server frames:  welcome {venue_id, seq, server_time} · reply {id, ok, result|error}
                event {seq, name, by, at, data}
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

MAX_FRAME_BYTES = 1024 * 1024


class ErrorCode(StrEnum):
    """Stable machine codes for every error a client can see."""

    VALIDATION = "validation_error"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    APPROVAL_REQUIRED = "approval_required"
    PAYMENT_DECLINED = "payment_declined"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal_error"


class WireError(Exception):
    """A frame that cannot be understood; `command_id` is set when the frame had a usable id."""

    def __init__(self, message: str, *, command_id: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.command_id = command_id
        self.details = details


@dataclass(frozen=True, slots=True)
class Hello:
    token: str
    terminal_id: str | None
    last_seq: int | None


@dataclass(frozen=True, slots=True)
class Auth:
    token: str


@dataclass(frozen=True, slots=True)
class Command:
    id: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)


ClientFrame = Hello | Auth | Command


def _uuid(value: Any, what: str, command_id: str | None = None) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        raise WireError(f"{what} must be a UUID", command_id=command_id, field=what) from None


def parse_frame(raw: str | bytes) -> ClientFrame:
    """Decode one client frame, or raise WireError saying what is wrong with it."""
    if len(raw) > MAX_FRAME_BYTES:
        raise WireError("frame is larger than 1 MiB", limit=MAX_FRAME_BYTES)
    try:
        obj = decode(raw)
    except ValueError:
        raise WireError("frame is not valid JSON") from None
    if not isinstance(obj, dict):
        raise WireError("frame must be a JSON object")
    kind = obj.get("type")
    if kind == "command":
        return parse_command(obj)
    if kind == "hello":
        token = obj.get("token")
        if not isinstance(token, str) or not token:
            raise WireError("hello needs a token", field="token")
        terminal_id = obj.get("terminal_id")
        if terminal_id is not None:
            terminal_id = _uuid(terminal_id, "terminal_id")
        last_seq = obj.get("last_seq")
        if last_seq is not None and (type(last_seq) is not int or last_seq < 0):
            raise WireError("last_seq must be a whole number ≥ 0 or null", field="last_seq")
        return Hello(token=token, terminal_id=terminal_id, last_seq=last_seq)
    if kind == "auth":
        token = obj.get("token")
        if not isinstance(token, str) or not token:
            raise WireError("auth needs a token", field="token")
        return Auth(token=token)
    raise WireError(f"unknown frame type {kind!r}", field="type")


def parse_command(obj: Any) -> Command:
    """Validate a command envelope (already decoded from JSON)."""
    if not isinstance(obj, dict) or obj.get("type") != "command":
        raise WireError('a command envelope is {"type":"command","id","name","args"}')
    raw_id = obj.get("id")
    command_id = _uuid(raw_id, "id")
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise WireError("command needs a name", command_id=command_id, field="name")
    args = obj.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise WireError("args must be an object", command_id=command_id, field="args")
    return Command(id=command_id, name=name, args=args)


def ws_url(server: str, path: str = "/ws/terminal") -> str:
    """``https://pos.example.com`` → ``wss://pos.example.com/ws/…`` (http → ws, https → wss)."""
    parts = urlsplit(server)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"expected an http(s) or ws(s) URL, got {server!r}")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, "", ""))


def now_iso() -> str:
    """The current UTC time in ISO 8601."""
    return datetime.now(timezone.utc).isoformat()


def welcome(venue_id: str, seq: int) -> dict[str, Any]:
    """The `welcome` frame: the venue, its current seq and the server's time."""
    return {"type": "welcome", "venue_id": venue_id, "seq": seq, "server_time": now_iso()}


def reply_ok(command_id: str, result: Any) -> dict[str, Any]:
    """The reply to a command that succeeded, with its result."""
    return {"type": "reply", "id": command_id, "ok": True, "result": result}


def reply_error(
    command_id: str | None, code: str, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The reply to a command that failed: a stable code, a message and any details."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"type": "reply", "id": command_id, "ok": False, "error": error}


def event(seq: int, name: str, by: str | None, at: str, data: Any) -> dict[str, Any]:
    """An `event` frame: one venue event with its seq, who caused it and when."""
    return {"type": "event", "seq": seq, "name": name, "by": by, "at": at, "data": data}


# What the standard library writes (below), at a fifth of the CPU: dates and dataclasses still go
# through `str`, keys that are not strings are written as strings (docs/decisions.md,
# "Dependencies").
_ENCODE_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def encode(frame: dict[str, Any]) -> str:
    """A server frame as compact JSON text; what orjson cannot write goes through the standard library."""
    try:
        return orjson.dumps(frame, default=str, option=_ENCODE_OPTIONS).decode()
    except orjson.JSONEncodeError:  # what orjson cannot write (an integer beyond 64 bits)
        return json.dumps(frame, separators=(",", ":"), ensure_ascii=False, default=str)


def dumps(value: Any) -> bytes:
    """Plain JSON for a database column (psycopg's Jsonb): orjson, or for what it cannot write,
    the standard library."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value).encode()


def decode(raw: str | bytes) -> Any:
    """Strict JSON: not NaN or Infinity, nor a lone surrogate (text no database column could
    hold). Raises ValueError."""
    return orjson.loads(raw)
