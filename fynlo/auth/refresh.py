"""Sessions: a token pair per sign-in, and refresh-token rotation with reuse detection.

Refresh tokens are opaque random strings; only their SHA-256 is stored. Every refresh
rotates: the presented token is marked used and points at its replacement (RFC 9700). All
tokens descended from one sign-in form a *family*.

A tablet on flaky Wi-Fi may send a refresh and never see the answer. So a used token presented
again within `settings.refresh_grace_s` returns the same replacement, as long as that
replacement has not been used itself (FAPI 2 practice). To hand back the same value without
storing it, a replacement is derived from the secret and the id of the token it replaces.
Outside that window a used token coming back means two parties hold the family: the whole
family is revoked (`auth.family_revoked`), which also kills its access tokens at once
(`principal.authenticate` checks the family).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from fynlo.auth.audit import append_event
from fynlo.auth.keys import derive_key, new_token, token_digest
from fynlo.auth.tokens import mint_access
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.errors import Unauthenticated


@dataclass(frozen=True)
class StaffInfo:
    """The `user` part of a sign-in answer: never any secret."""

    id: str
    name: str
    role: str
    venue_id: str


@dataclass(frozen=True)
class Session:
    """A token pair and who it is for."""

    access_token: str
    refresh_token: str
    expires_in: int
    user: StaffInfo


def _successor(settings: Settings, token_id: uuid.UUID) -> str:
    digest = hmac.new(derive_key(settings.secret_key, "refresh-successor"), token_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _session(
    settings: Settings, staff: dict[str, Any], refresh_token: str, family_id: str, terminal_id: str | None
) -> Session:
    access, expires_in = mint_access(
        settings,
        staff_id=str(staff["id"]),
        venue_id=str(staff["venue_id"]),
        role=staff["role"],
        terminal_id=terminal_id,
        family_id=family_id,
    )
    user = StaffInfo(str(staff["id"]), staff["name"], staff["role"], str(staff["venue_id"]))
    return Session(access, refresh_token, expires_in, user)


def _insert(
    conn: Any, settings: Settings, token: str, family_id: str, staff_id: str, terminal_id: str | None
) -> uuid.UUID | None:
    """Store a refresh token for an active staff member; None when they are not active."""
    token_id = uuid.uuid4()
    row = conn.execute(
        "INSERT INTO refresh_tokens (id, family_id, staff_id, venue_id, terminal_id, token_hash, expires_at)"
        " SELECT %s, %s, s.id, s.venue_id, %s, %s, now() + make_interval(secs => %s)"
        " FROM staff s WHERE s.id = %s AND s.active RETURNING id",
        (token_id, family_id, terminal_id, token_digest(token), settings.refresh_token_ttl_s, staff_id),
    ).fetchone()
    return None if row is None else token_id


def open_session(conn: Any, settings: Settings, staff: dict[str, Any], terminal_id: str | None) -> Session:
    """Start a new family for `staff` (a row with id, venue_id, name, role) and return its pair.

    Raises:
        Unauthenticated: the staff member was deactivated meanwhile.
    """
    token, family_id = new_token(), str(uuid.uuid4())
    if _insert(conn, settings, token, family_id, str(staff["id"]), terminal_id) is None:
        raise Unauthenticated("this account is not active")
    return _session(settings, staff, token, family_id, terminal_id)


_FIND = """
SELECT r.id, r.family_id, r.staff_id, r.venue_id, r.terminal_id,
       r.used_at IS NOT NULL AS used,
       r.used_at > now() - make_interval(secs => %(grace)s) AS in_grace,
       r.revoked_at IS NOT NULL OR r.expires_at <= now() AS dead,
       s.name, s.role, s.active AND (t.id IS NULL OR t.revoked_at IS NULL) AS usable,
       n.used_at IS NULL AND n.revoked_at IS NULL AS successor_fresh
  FROM refresh_tokens r
  JOIN staff s ON s.id = r.staff_id
  LEFT JOIN terminals t ON t.id = r.terminal_id
  LEFT JOIN refresh_tokens n ON n.id = r.replaced_by
 WHERE r.token_hash = %(hash)s
   FOR UPDATE OF r
"""


def _rotate(conn: Any, settings: Settings, token: str) -> Session | str:
    """One refresh, in one transaction; a venue id means the family was just revoked, with an
    event of that venue (commit it)."""
    row = conn.execute(_FIND, {"grace": settings.refresh_grace_s, "hash": token_digest(token)}).fetchone()
    if row is None or row["dead"] or not row["usable"]:
        raise Unauthenticated("the refresh token is not valid; sign in again")
    staff = {"id": row["staff_id"], "venue_id": row["venue_id"], "name": row["name"], "role": row["role"]}
    family, terminal = str(row["family_id"]), _str_or_none(row["terminal_id"])
    if not row["used"]:
        successor = _successor(settings, row["id"])
        new_id = _insert(conn, settings, successor, family, str(row["staff_id"]), terminal)
        if new_id is None:
            raise Unauthenticated("this account is not active")
        conn.execute("UPDATE refresh_tokens SET used_at = now(), replaced_by = %s WHERE id = %s", (new_id, row["id"]))
        return _session(settings, staff, successor, family, terminal)
    if row["in_grace"] and row["successor_fresh"]:
        return _session(settings, staff, _successor(settings, row["id"]), family, terminal)
    conn.execute(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = %s AND revoked_at IS NULL", (family,)
    )
    append_event(
        conn,
        str(row["venue_id"]),
        "auth.family_revoked",
        {
            "family_id": family,
            "staff_id": str(row["staff_id"]),
            "terminal_id": terminal,
            "reason": "refresh_token_reused",
        },
    )
    return str(row["venue_id"])


async def rotate(db: Database, settings: Settings, token: str, *,
                 events_written: Callable[[str], Awaitable[None]] | None = None) -> Session:
    """Exchange a refresh token for a new pair (see the module docstring for reuse and grace).
    A reused token's revocation writes a venue event: `events_written(venue_id)` then has it
    published.

    Raises:
        Unauthenticated: unknown, expired or revoked token, inactive staff, revoked terminal,
            or a reused token (whose family is revoked first, and stays revoked).
    """
    session = await db.run(lambda conn: _rotate(conn, settings, token))
    if isinstance(session, str):
        if events_written is not None:
            await events_written(session)
        raise Unauthenticated("this refresh token was already used; the session is revoked", reason="token_reused")
    return session


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)
