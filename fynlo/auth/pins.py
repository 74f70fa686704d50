"""PINs: the venue-scoped lookup, and the lockout that makes 4-digit PINs tolerable.

A PIN is typed without a name, so it must identify its owner within the venue. The lookup is
a keyed HMAC of (venue, PIN) with a key derived from FYNLO_SECRET_KEY: unique per venue by a
database constraint, and useless to anyone who reads the table without the key (a plain hash
of 10^4 PINs would be reversed in a blink). The argon2 `pin_hash` is checked as well.

Lockout (OWASP-style, docs/permissions.md): `TERMINAL_MAX_FAILURES` wrong PINs within
`FAILURE_WINDOW_S` on one terminal lock PIN entry on that terminal for `LOCK_S`;
`VENUE_MAX_FAILURES` across the venue lock the whole venue's PIN entry. Failures and locks are
rows, so they hold across server processes and restarts. While locked, every attempt is
refused with `rate_limited` before the PIN is even looked at, right PIN or not.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from typing import Any

from fynlo.auth.audit import append_event
from fynlo.auth.keys import derive_key
from fynlo.errors import RateLimited, ValidationError

log = logging.getLogger("fynlo.auth")

TERMINAL_MAX_FAILURES = 5
VENUE_MAX_FAILURES = 5
FAILURE_WINDOW_S = 15 * 60
LOCK_S = 15 * 60
_PIN = re.compile(r"[0-9]{4,8}")


def validate_pin(pin: str) -> None:
    """Raises ValidationError unless `pin` is 4 to 8 digits (the message never repeats it)."""
    if not _PIN.fullmatch(pin):
        raise ValidationError("a PIN is 4 to 8 digits", field="pin")


def pin_lookup(secret: str, venue_id: str, pin: str) -> bytes:
    """The keyed digest that finds a PIN's owner within one venue."""
    message = f"{uuid.UUID(str(venue_id))}:{pin}".encode()
    return hmac.new(derive_key(secret, "pin-lookup"), message, hashlib.sha256).digest()


def find_by_pin(conn: Any, secret: str, venue_id: str, pin: str) -> dict[str, Any] | None:
    """The active staff member of `venue_id` whose PIN this is, with `pin_hash` to verify."""
    return conn.execute(
        "SELECT id, venue_id, name, role, pin_hash FROM staff"
        " WHERE venue_id = %s AND pin_lookup = %s AND active",
        (venue_id, pin_lookup(secret, venue_id, pin)),
    ).fetchone()


def ensure_unlocked(conn: Any, venue_id: str, terminal_id: str | None) -> None:
    """Raises RateLimited (with `retry_after` seconds) while the terminal or venue is locked."""
    row = conn.execute(
        "SELECT ceil(extract(epoch FROM max(locked_until) - now()))::int AS wait FROM pin_locks"
        " WHERE venue_id = %s AND (terminal_id IS NULL OR terminal_id = %s) AND locked_until > now()",
        (venue_id, terminal_id),
    ).fetchone()
    if row is not None and row["wait"] is not None:
        raise RateLimited(
            "too many wrong PINs: PIN entry is locked for a while", retry_after=max(1, row["wait"])
        )


def record_failure(conn: Any, venue_id: str, terminal_id: str | None) -> bool:
    """Count one wrong PIN; start a terminal or venue lock when a threshold is reached.
    True: a lock started, and with it the venue event `staff.pin_locked`, which the caller
    has published once this commits (it was written outside the actors).

    Must commit even though the attempt fails: callers run it in its own transaction, after
    the attempt's transaction. Failures of one venue are serialised by an advisory lock so two
    wrong PINs typed at once cannot both miss the threshold, and a lock starts (and emits
    `staff.pin_locked`) exactly once.
    """
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('fynlo-pin:' || %s::text, 0))", (venue_id,))
    conn.execute("INSERT INTO pin_failures (venue_id, terminal_id) VALUES (%s, %s)", (venue_id, terminal_id))
    conn.execute(
        "DELETE FROM pin_failures WHERE venue_id = %s AND at < now() - make_interval(secs => %s)",
        (venue_id, FAILURE_WINDOW_S),
    )
    locked = False
    if terminal_id is not None and _failures(conn, venue_id, terminal_id) >= TERMINAL_MAX_FAILURES:
        _lock(conn, venue_id, terminal_id)
        locked = True
    if _failures(conn, venue_id, None) >= VENUE_MAX_FAILURES:
        _lock(conn, venue_id, None)
        locked = True
    return locked


def _failures(conn: Any, venue_id: str, terminal_id: str | None) -> int:
    """Recent failures in one scope, not counting those that already caused an earlier lock."""
    row = conn.execute(
        "SELECT count(*) AS n FROM pin_failures f"
        " WHERE f.venue_id = %(venue)s AND (%(term)s::uuid IS NULL OR f.terminal_id = %(term)s)"
        "   AND f.at > now() - make_interval(secs => %(window)s)"
        "   AND f.at > coalesce((SELECT max(started_at) FROM pin_locks l WHERE l.venue_id = %(venue)s"
        "                        AND l.terminal_id IS NOT DISTINCT FROM %(term)s), '-infinity')",
        {"venue": venue_id, "term": terminal_id, "window": FAILURE_WINDOW_S},
    ).fetchone()
    return int(row["n"])


def _lock(conn: Any, venue_id: str, terminal_id: str | None) -> None:
    row = conn.execute(
        "INSERT INTO pin_locks (venue_id, terminal_id, locked_until)"
        " VALUES (%s, %s, now() + make_interval(secs => %s)) RETURNING locked_until",
        (venue_id, terminal_id, LOCK_S),
    ).fetchone()
    scope = "venue" if terminal_id is None else "terminal"
    append_event(
        conn,
        venue_id,
        "staff.pin_locked",
        {"scope": scope, "terminal_id": terminal_id, "locked_until": row["locked_until"].isoformat()},
    )
    log.warning("PIN entry locked", extra={"venue_id": venue_id, "terminal_id": terminal_id, "scope": scope})
