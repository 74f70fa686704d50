"""The venue event log: reading it (replay after a reconnect, gap repair, the current seq)
and the payload its events travel in on the bus."""

from __future__ import annotations

from typing import Any, Sequence

from fynlo.commands.unit import StoredEvent
from fynlo.wire import encode, event

PAGE = 500


def venue_topic(venue_id: str) -> str:
    return f"venue:{venue_id}"


def frame_of(ev: StoredEvent) -> str:
    """The event as terminals receive it."""
    return encode(event(ev.seq, ev.name, ev.by, ev.at.isoformat(), ev.data))


def bus_payload(events: Sequence[StoredEvent]) -> bytes:
    """`<seq>\\n<event frame>` for each event, one after another (JSON frames hold no raw
    newline): subscribers order by the seqs without decoding the frames, and the events of one
    command travel, and reach each socket, together."""
    return "\n".join(f"{ev.seq}\n{frame_of(ev)}" for ev in events).encode()


def tick_payload(seq: int) -> bytes:
    """Says "the venue is at seq N" with no frame: subscribers behind it read the gap."""
    return f"{seq}\n".encode()


def read_payload(payload: bytes) -> list[tuple[int, str | None]]:
    """(seq, frame) pairs of a bus payload; the frame is None for a tick."""
    parts = payload.decode().split("\n")
    return [(int(parts[i]), parts[i + 1] or None) for i in range(0, len(parts) - 1, 2)]


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
