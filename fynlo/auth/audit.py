"""Security facts go into the venue's event log, which is the audit log (ARCHITECTURE.md).

Auth flows (PIN lockouts, revoked refresh families, terminals registered or revoked, approvals)
append their events here; the command executor may reuse `append_event` for the same reason.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb


def append_event(
    conn: Any,
    venue_id: str,
    name: str,
    data: dict[str, Any],
    by_staff: str | None = None,
    command_id: str | None = None,
) -> int:
    """Append one event with the venue's next gap-free seq and return that seq.

    Bumping `venues.last_seq` takes the venue row lock, which is held until the surrounding
    transaction ends: events of one venue therefore commit in seq order, which is what lets the
    publisher send them in order. Never put secrets in `data`: terminals receive every event.

    Raises:
        LookupError: the venue does not exist (a caller's bug: venues are checked before).
    """
    row = conn.execute(
        "UPDATE venues SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq", (venue_id,)
    ).fetchone()
    if row is None:
        raise LookupError(f"no venue {venue_id}")
    seq = int(row["last_seq"])
    conn.execute(
        "INSERT INTO events (venue_id, seq, name, data, by_staff, command_id) VALUES (%s, %s, %s, %s, %s, %s)",
        (venue_id, seq, name, Jsonb(data), by_staff, command_id),
    )
    return seq
