"""POST /api/v1/commands: one command envelope in, its reply envelope out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, request
from quart_schema import document_request, document_response, security_scheme

from fynlo.auth.routes import bearer_principal
from fynlo.errors import FynloError
from fynlo.web.context import services
from fynlo.wire import ErrorCode, WireError, decode, parse_command, reply_error

bp = Blueprint("commands", __name__)

_STATUS = {str(c): s for c, s in (
    (ErrorCode.VALIDATION, 422), (ErrorCode.UNAUTHENTICATED, 401), (ErrorCode.FORBIDDEN, 403),
    (ErrorCode.NOT_FOUND, 404), (ErrorCode.CONFLICT, 409), (ErrorCode.APPROVAL_REQUIRED, 403),
    (ErrorCode.PAYMENT_DECLINED, 402), (ErrorCode.RATE_LIMITED, 429), (ErrorCode.UNAVAILABLE, 503),
)}


class CommandEnvelope(BaseModel):
    type: str = Field(default="command", description='always "command"')
    id: str = Field(description="a UUID chosen by the client; re-sending it returns the first reply")
    name: str = Field(examples=["venue.get"])
    args: dict[str, Any] = Field(default_factory=dict)


class ReplyEnvelope(BaseModel):
    type: str = "reply"
    id: str | None
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None


def _status(reply: dict[str, Any]) -> int:
    return 200 if reply["ok"] else _STATUS.get(reply["error"]["code"], 500)


@bp.post("/api/v1/commands")
@document_request(CommandEnvelope)
@document_response(ReplyEnvelope, 200)
@security_scheme([{"bearer": []}])
async def command() -> tuple[dict[str, Any], int]:
    """Run one command; the same semantics as over the WebSocket."""
    raw = await request.get_data()
    try:
        envelope = parse_command(decode(raw))
    except ValueError:
        reply = reply_error(None, ErrorCode.VALIDATION, "the body is not valid JSON")
        return reply, _status(reply)
    except WireError as exc:
        reply = reply_error(exc.command_id, ErrorCode.VALIDATION, exc.message, exc.details or None)
        return reply, _status(reply)
    try:
        principal = await bearer_principal()
    except FynloError as exc:
        reply = reply_error(envelope.id, str(exc.code), exc.message, exc.details or None)
        return reply, _status(reply)
    reply = await services().extras["dispatcher"].execute(principal, envelope)
    return reply, _status(reply)
