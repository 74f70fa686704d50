"""Signing in: by email and password (the dashboard, the owner's phone) or by PIN on a terminal.

Argon2 checks run in a worker thread between two short transactions rather than inside one,
so a burst of sign-ins holds database connections for milliseconds, not for the hash.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from fynlo.auth.passwords import verify_async
from fynlo.auth.pins import ensure_unlocked, find_by_pin, record_failure, validate_pin
from fynlo.auth.refresh import Session, open_session
from fynlo.auth.terminals import resolve_terminal
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.errors import Unauthenticated

# One message for "no such email" and "wrong password", so the answer tells an attacker nothing.
BAD_LOGIN = "wrong email or password"
BAD_PIN = "wrong PIN"


async def login_password(db: Database, settings: Settings, email: str, password: str) -> Session:
    """Sign in with email and password; the session is not bound to a terminal.

    Raises:
        Unauthenticated: unknown email, wrong password or inactive account, all alike and
            taking about as long (an unknown email is checked against a dummy hash).
    """
    row = await db.run(
        lambda conn: conn.execute(
            "SELECT id, venue_id, name, role, password_hash FROM staff WHERE lower(email) = lower(%s) AND active",
            (email.strip(),),
        ).fetchone()
    )
    verified = await verify_async(None if row is None else row["password_hash"], password)
    if row is None or not verified.ok:
        raise Unauthenticated(BAD_LOGIN)

    def start(conn: Any) -> Session:
        if verified.rehash:
            conn.execute("UPDATE staff SET password_hash = %s WHERE id = %s", (verified.rehash, row["id"]))
        return open_session(conn, settings, row, terminal_id=None)

    return await db.run(start)


async def login_pin(db: Database, settings: Settings, terminal_token: str, pin: str, *,
                    events_written: Callable[[str], Awaitable[None]] | None = None) -> Session:
    """Sign a staff member in on a registered terminal; the tokens carry that terminal's id.

    The PIN is looked up only in the terminal's venue, so another venue's PIN never works.
    A wrong PIN that starts a lock writes a venue event: `events_written(venue_id)` then has
    it published.

    Raises:
        ValidationError: the PIN is not 4 to 8 digits.
        Unauthenticated: unknown or revoked terminal, or a wrong PIN (which is counted).
        RateLimited: PIN entry on this terminal or venue is locked, right PIN or not.
    """
    validate_pin(pin)

    def find(conn: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        terminal = resolve_terminal(conn, terminal_token)
        if terminal is None:
            raise Unauthenticated("this terminal is not registered or was revoked", reason="terminal_unknown")
        ensure_unlocked(conn, str(terminal["venue_id"]), str(terminal["id"]))
        return terminal, find_by_pin(conn, settings.secret_key, str(terminal["venue_id"]), pin)

    terminal, staff = await db.run(find)
    venue_id, terminal_id = str(terminal["venue_id"]), str(terminal["id"])
    verified = await verify_async(None if staff is None else staff["pin_hash"], pin)
    if staff is None or not verified.ok:
        locked = await db.run(lambda conn: record_failure(conn, venue_id, terminal_id))
        if locked and events_written is not None:
            await events_written(venue_id)
        raise Unauthenticated(BAD_PIN)

    def start(conn: Any) -> Session:
        ensure_unlocked(conn, venue_id, terminal_id)  # a lock may have started meanwhile
        if verified.rehash:
            conn.execute("UPDATE staff SET pin_hash = %s WHERE id = %s", (verified.rehash, staff["id"]))
        return open_session(conn, settings, staff, terminal_id=terminal_id)

    return await db.run(start)
