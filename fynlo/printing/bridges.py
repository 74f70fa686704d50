"""Venue bridges sign in with their device token (no staff member, no expiry)."""

from __future__ import annotations

import math

from fynlo.auth.principal import Principal, Role
from fynlo.auth.terminals import resolve_terminal
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.errors import Unauthenticated


async def authenticate_bridge(db: Database, settings: Settings, token: str) -> Principal:
    """The bridge holding `token`, as a principal whose id is the bridge's; revoked → refused."""
    row = await db.run(lambda conn: resolve_terminal(conn, token, kind="bridge"))
    if row is None:
        raise Unauthenticated("unknown or revoked bridge token")
    return Principal(staff_id=str(row["id"]), venue_id=str(row["venue_id"]), role=Role.BRIDGE,
                     terminal_id=None, family_id=None, expires_at=math.inf)
