"""HTTP routes for signing in, refreshing, terminals and staff (CONTRACT.md, "HTTP").

Passwords, PINs and tokens arrive as `SecretStr`, so a stray log of a request model prints
`**********`; they are checked by hand rather than by pydantic constraints, whose error
details would echo the submitted value back.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from pydantic import BaseModel, Field, SecretStr
from quart import Blueprint, request
from quart_schema import document_response, security_scheme, validate_request, validate_response

from fynlo.auth import permissions
from fynlo.auth.login import login_password, login_pin
from fynlo.auth.principal import Principal, Role
from fynlo.auth.refresh import Session, rotate
from fynlo.auth.routes import bearer_principal
from fynlo.auth.staff import create_staff
from fynlo.auth.terminals import register_terminal, revoke_terminal
from fynlo.errors import ValidationError
from fynlo.web.context import announce, services

bp = Blueprint("auth", __name__)

# Staff switch users on a shared till all evening; the PIN lockout is the brute-force guard,
# this limit only keeps one device from spending the server's CPU on argon2.
PIN_ATTEMPTS_PER_MIN = 30
_MAX_SECRET_CHARS = 1024


class LoginIn(BaseModel):
    email: str = Field(max_length=320, examples=["demo@fynlo.local"])
    password: SecretStr


class RefreshIn(BaseModel):
    refresh_token: SecretStr


class PinIn(BaseModel):
    terminal_token: SecretStr
    pin: SecretStr = Field(description="4 to 8 digits")


class UserOut(BaseModel):
    id: str
    name: str
    role: str
    venue_id: str


class SessionOut(BaseModel):
    access_token: str
    refresh_token: str = Field(description="opaque; single use: each refresh returns a new one")
    token_type: str = "Bearer"
    expires_in: int = Field(description="seconds until the access token expires")
    user: UserOut


class ErrorOut(BaseModel):
    error: dict[str, Any] = Field(description="{code, message, details}")


class TerminalIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, examples=["Bar till"])


class TerminalOut(BaseModel):
    terminal_id: str
    terminal_token: str = Field(description="shown only now: the device keeps it for PIN sign-in")


class TerminalRevokedOut(BaseModel):
    terminal_id: str
    revoked: bool = True


class StaffIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role
    pin: SecretStr | None = Field(default=None, description="4 to 8 digits, unique within the venue")
    email: str | None = Field(default=None, max_length=320)
    password: SecretStr | None = None


class StaffOut(BaseModel):
    id: str
    venue_id: str
    name: str
    role: str
    email: str | None
    has_pin: bool
    active: bool = True


def _secret(value: SecretStr | None, field: str) -> str | None:
    if value is None:
        return None
    plain = value.get_secret_value()
    if len(plain) > _MAX_SECRET_CHARS:
        raise ValidationError(f"{field} is too long", field=field)
    return plain


def _digest(value: str) -> str:
    """Rate-limit keys name emails and device tokens only by digest: keys may be logged."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


async def _allowed(action: str) -> Principal:
    """The request's principal, provided their role may do `action` (an entry of `permissions.RULES`)."""
    principal = await bearer_principal()
    permissions.check(principal, action)
    return principal


def _session_out(session: Session) -> SessionOut:
    user = session.user
    return SessionOut(
        access_token=session.access_token,
        refresh_token=session.refresh_token,
        expires_in=session.expires_in,
        user=UserOut(id=user.id, name=user.name, role=user.role, venue_id=user.venue_id),
    )


@bp.post("/api/v1/auth/login")
@validate_request(LoginIn)
@validate_response(SessionOut, 200)
@document_response(ErrorOut, 401)
@document_response(ErrorOut, 429)
async def login(data: LoginIn) -> SessionOut:
    """Sign in with email and password. Limited per client address and per email."""
    svc = services()
    limit = svc.settings.login_rate_per_min
    await svc.limiter.hit(f"login:ip:{request.remote_addr}", limit=limit, window_s=60)
    await svc.limiter.hit(f"login:email:{_digest(data.email.strip().lower())}", limit=limit, window_s=60)
    password = _secret(data.password, "password") or ""
    return _session_out(await login_password(svc.db, svc.settings, data.email, password))


@bp.post("/api/v1/auth/refresh")
@validate_request(RefreshIn)
@validate_response(SessionOut, 200)
@document_response(ErrorOut, 401)
async def refresh(data: RefreshIn) -> SessionOut:
    """Exchange a refresh token for a new pair. A retry within 30 s returns the same pair;
    a used token presented later revokes the whole session."""
    svc = services()
    token = _secret(data.refresh_token, "refresh_token") or ""
    return _session_out(await rotate(svc.db, svc.settings, token, events_written=announce))


@bp.post("/api/v1/auth/pin")
@validate_request(PinIn)
@validate_response(SessionOut, 200)
@document_response(ErrorOut, 401)
@document_response(ErrorOut, 429)
async def pin_login(data: PinIn) -> SessionOut:
    """Staff PIN sign-in on a registered terminal; the tokens are bound to that terminal."""
    svc = services()
    terminal_token = _secret(data.terminal_token, "terminal_token") or ""
    await svc.limiter.hit(f"pin:terminal:{_digest(terminal_token)}", limit=PIN_ATTEMPTS_PER_MIN, window_s=60)
    pin = _secret(data.pin, "pin") or ""
    return _session_out(await login_pin(svc.db, svc.settings, terminal_token, pin, events_written=announce))


class BridgeOut(BaseModel):
    bridge_id: str
    bridge_token: str = Field(description="shown only now: the bridge's config keeps it")


async def _register(name: str, kind: str) -> tuple[str, str]:
    principal = await _allowed("terminal.register")
    svc = services()
    device_id, token = await svc.db.run(
        lambda conn: register_terminal(conn, principal.venue_id, name.strip(), principal.staff_id, kind)
    )
    await announce(principal.venue_id)
    return device_id, token


async def _revoke(device_id: uuid.UUID) -> str:
    principal = await _allowed("terminal.revoke")
    tid = str(device_id)
    await services().db.run(lambda conn: revoke_terminal(conn, principal.venue_id, tid, principal.staff_id))
    await announce(principal.venue_id)
    return tid


@bp.post("/api/v1/terminals")
@security_scheme([{"bearer": []}])
@validate_request(TerminalIn)
@validate_response(TerminalOut, 201)
@document_response(ErrorOut, 403)
async def create_terminal(data: TerminalIn) -> tuple[TerminalOut, int]:
    """Register a device for the caller's venue (managers and owners)."""
    terminal_id, token = await _register(data.name, "terminal")
    return TerminalOut(terminal_id=terminal_id, terminal_token=token), 201


@bp.post("/api/v1/terminals/<uuid:terminal_id>/revoke")
@security_scheme([{"bearer": []}])
@validate_response(TerminalRevokedOut, 200)
@document_response(ErrorOut, 404)
async def revoke(terminal_id: uuid.UUID) -> TerminalRevokedOut:
    """Revoke a terminal: no more PIN sign-in on it, and its sessions end (managers and owners)."""
    return TerminalRevokedOut(terminal_id=await _revoke(terminal_id))


@bp.post("/api/v1/bridges")
@security_scheme([{"bearer": []}])
@validate_request(TerminalIn)
@validate_response(BridgeOut, 201)
@document_response(ErrorOut, 403)
async def create_bridge(data: TerminalIn) -> tuple[BridgeOut, int]:
    """Register a venue bridge (managers and owners); its token goes in the bridge's config."""
    bridge_id, token = await _register(data.name, "bridge")
    return BridgeOut(bridge_id=bridge_id, bridge_token=token), 201


@bp.post("/api/v1/bridges/<uuid:bridge_id>/revoke")
@security_scheme([{"bearer": []}])
@validate_response(TerminalRevokedOut, 200)
@document_response(ErrorOut, 404)
async def revoke_bridge(bridge_id: uuid.UUID) -> TerminalRevokedOut:
    """Revoke a bridge: its token stops working at its next sign-in."""
    return TerminalRevokedOut(terminal_id=await _revoke(bridge_id))


@bp.post("/api/v1/staff")
@security_scheme([{"bearer": []}])
@validate_request(StaffIn)
@validate_response(StaffOut, 201)
@document_response(ErrorOut, 409)
async def add_staff(data: StaffIn) -> tuple[StaffOut, int]:
    """Add a staff member to the caller's venue. Nobody may create a role above their own."""
    principal = await _allowed("staff.create")
    permissions.check_can_grant(principal, data.role)
    svc = services()
    pin, password = _secret(data.pin, "pin"), _secret(data.password, "password")
    staff_id = await svc.db.run(
        lambda conn: create_staff(
            conn, svc.settings, principal.venue_id,
            name=data.name, role=data.role, pin=pin, email=data.email, password=password,
        )
    )
    email = None if data.email is None else data.email.strip().lower()
    out = StaffOut(
        id=staff_id, venue_id=principal.venue_id, name=data.name.strip(), role=str(data.role),
        email=email, has_pin=pin is not None,
    )
    return out, 201
