"""Reading the venue event log: replay after a reconnect, gap repair, the current seq."""

from __future__ import annotations

from typing import Any

from fynlo.commands.unit import StoredEvent

PAGE = 500


def venue_topic(venue_id: str) -> str:
    return f"venue:{venue_id}"


def venue_seq(conn: Any, venue_id: str) -> int:
    row = conn.execute("SELECT last_seq FROM venues WHERE id = %s", (venue_id,)).fetchone()
    return 0 if row is None else int(row["last_seq"])


def read_events(conn: Any, venue_id: str, after: int, upto: int, limit: int = PAGE) -> list[StoredEvent]:
    """Events with after < seq <= upto, oldest first, at most `limit` of them."""
    rows = conn.execute(
        "SELECT seq, name, by_staff, at, data FROM events"
        " WHERE venue_id = %s AND seq > %s AND seq <= %s ORDER BY seq LIMIT %s",
        (venue_id, after, upto, limit),
    ).fetchall()
    return [
        StoredEvent(venue_id, r["seq"], r["name"], str(r["by_staff"]) if r["by_staff"] else None, r["at"], r["data"])
        for r in rows
    ]
