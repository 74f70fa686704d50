"""Terminals: devices a manager registers, holding a token that lets staff sign in by PIN.

The token is shown once, at registration, and stored only as a digest. Revoking a terminal
stops PIN sign-in on it and, through `principal.authenticate`, every token issued on it.
"""

from __future__ import annotations

import uuid
from typing import Any

from fynlo.auth.audit import append_event
from fynlo.auth.keys import new_token, token_digest
from fynlo.errors import NotFound

# Prefixes let secret scanners recognise a leaked token, and say what kind of device holds it.
TOKEN_PREFIX = {"terminal": "fyt_", "bridge": "fyb_"}


def register_terminal(conn: Any, venue_id: str, name: str, created_by: str | None,
                      kind: str = "terminal") -> tuple[str, str]:
    """Create a terminal (or a venue bridge, `kind="bridge"`); return `(id, token)`.
    Emits `terminal.registered`."""
    terminal_id, token = str(uuid.uuid4()), new_token(TOKEN_PREFIX[kind])
    conn.execute(
        "INSERT INTO terminals (id, venue_id, name, token_hash, created_by, kind) VALUES (%s, %s, %s, %s, %s, %s)",
        (terminal_id, venue_id, name, token_digest(token), created_by, kind),
    )
    append_event(conn, venue_id, "terminal.registered", {"terminal_id": terminal_id, "name": name, "kind": kind},
                 by_staff=created_by)
    return terminal_id, token


def revoke_terminal(conn: Any, venue_id: str, terminal_id: str, by_staff: str | None) -> None:
    """Revoke a terminal of `venue_id`; revoking it again changes nothing. Emits `terminal.revoked`.

    Raises:
        NotFound: no such terminal in this venue (another venue's terminal is not found either).
    """
    row = conn.execute(
        "SELECT revoked_at IS NOT NULL AS revoked FROM terminals WHERE id = %s AND venue_id = %s FOR UPDATE",
        (terminal_id, venue_id),
    ).fetchone()
    if row is None:
        raise NotFound("terminal not found")
    if row["revoked"]:
        return
    conn.execute("UPDATE terminals SET revoked_at = now() WHERE id = %s", (terminal_id,))
    append_event(conn, venue_id, "terminal.revoked", {"terminal_id": terminal_id}, by_staff=by_staff)


def resolve_terminal(conn: Any, token: str, kind: str = "terminal") -> dict[str, Any] | None:
    """The live device of `kind` holding `token` (id, venue_id, name), noting that it was seen."""
    return conn.execute(
        "UPDATE terminals SET last_seen_at = now() WHERE token_hash = %s AND revoked_at IS NULL AND kind = %s"
        " RETURNING id, venue_id, name",
        (token_digest(token), kind),
    ).fetchone()
