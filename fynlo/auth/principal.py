"""Who is asking: the principal behind a request, and how a bearer token becomes one.

A token alone is not enough: a staff member can be deactivated, a terminal revoked or a
refresh family revoked (a stolen token was replayed) well inside a token's 15 minutes. So
`authenticate` verifies the JWT and then asks the database, in one round trip, whether
everything it names is still good. The role is taken from the database too, so a demotion
applies at once rather than when the token runs out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from fynlo.auth.tokens import decode_access
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.errors import Unauthenticated


class Role(StrEnum):
    """Staff roles. Front of house is a ladder (owner > manager > staff); kitchen stands apart."""

    OWNER = "owner"
    MANAGER = "manager"
    STAFF = "staff"
    KITCHEN = "kitchen"
    BRIDGE = "bridge"      # a venue's hardware bridge: a device, never a person
    SYSTEM = "system"      # the venue's own machinery: provider callbacks, sweeps (never signs in)

    @classmethod
    def staff_roles(cls) -> tuple["Role", ...]:
        return (cls.OWNER, cls.MANAGER, cls.STAFF, cls.KITCHEN)

    @property
    def rank(self) -> int:
        """Seniority, for "may this person grant that role": kitchen ranks lowest."""
        return _RANK[self]


_RANK = {Role.OWNER: 3, Role.MANAGER: 2, Role.STAFF: 1, Role.KITCHEN: 0, Role.BRIDGE: -1, Role.SYSTEM: -1}


@dataclass(frozen=True)
class Principal:
    """An authenticated staff member, on a terminal or not (the dashboard has none)."""

    staff_id: str
    venue_id: str
    role: Role
    terminal_id: str | None
    family_id: str | None
    expires_at: float

    @property
    def expired(self) -> bool:
        """A WebSocket outlives its token: commands check this and answer `unauthenticated`."""
        return time.time() >= self.expires_at


_STILL_GOOD = """
SELECT s.role,
       (%(term)s::uuid IS NULL OR EXISTS (
            SELECT 1 FROM terminals t
             WHERE t.id = %(term)s AND t.venue_id = s.venue_id AND t.revoked_at IS NULL)) AS terminal_ok,
       (%(fam)s::uuid IS NULL OR NOT EXISTS (
            SELECT 1 FROM refresh_tokens r
             WHERE r.family_id = %(fam)s AND r.revoked_at IS NOT NULL)) AS family_ok
  FROM staff s
 WHERE s.id = %(sub)s AND s.venue_id = %(venue)s AND s.active
"""


async def authenticate(db: Database, settings: Settings, token: str) -> Principal:
    """Turn a bearer access token into a Principal, or refuse.

    Raises:
        Unauthenticated: the token is malformed, forged, expired, or names a staff member who
            is inactive, a terminal that was revoked, or a refresh family that was revoked.
    Cancellation: safe; nothing is written.
    """
    claims = decode_access(settings, token)
    params = {"sub": claims.staff_id, "venue": claims.venue_id, "term": claims.terminal_id, "fam": claims.family_id}
    row = await db.run(lambda conn: conn.execute(_STILL_GOOD, params).fetchone())
    if row is None or not row["terminal_ok"] or not row["family_ok"]:
        raise Unauthenticated("the session is no longer valid; sign in again", reason="revoked")
    return Principal(
        staff_id=claims.staff_id,
        venue_id=claims.venue_id,
        role=Role(row["role"]),
        terminal_id=claims.terminal_id,
        family_id=claims.family_id,
        expires_at=claims.expires_at,
    )
