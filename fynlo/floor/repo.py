"""Reading the floor plan, and the table an order is opened on.

Every query names the venue: another venue's ids read as nothing.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Sequence

from fynlo.menu.catalogue import lock_venue, read_rows

Row = dict[str, Any]
Ids = Sequence[str] | None  # None: all of the venue's


def read_areas(conn: Any, venue_id: str, ids: Ids = None) -> list[Row]:
    return read_rows(conn, "floor_areas", ("id", "name", "position"), venue_id, ids)


def read_tables(conn: Any, venue_id: str, ids: Ids = None) -> list[Row]:
    return read_rows(conn, "floor_tables", ("id", "area_id", "name", "seats", "position", "active"), venue_id, ids,
                     uuids=("id", "area_id"))


def read_floor(conn: Any, venue_id: str) -> dict[str, Any]:
    """`{version, areas: [{id, name, position, tables: [...]}]}`, inactive tables included."""
    version = conn.execute("SELECT floor_version FROM venues WHERE id = %s", (venue_id,)).fetchone()
    tables: dict[str, list[Row]] = {}
    for table in read_tables(conn, venue_id):
        tables.setdefault(table["area_id"], []).append(table)
    areas = [{**a, "tables": tables.get(a["id"], [])} for a in read_areas(conn, venue_id)]
    return {"version": version["floor_version"] if version else 0, "areas": areas}


def table_for_order(conn: Any, venue_id: str, table_id: str) -> dict[str, Any] | None:
    """The active table an order is opened on or moved to, locked until the transaction ends,
    or None (no such table in this venue, or taken off the plan).

    `{id, name, seats, area_id, area}` (`area` is the area's name). The row lock (FOR UPDATE)
    is what makes "one open order per table" hold: check for another open order after this
    call, in the same transaction. The venue row is locked first, as every floor edit does;
    both statements are sent before either answer is read (one round trip when pipelined).
    """
    return table_for_order_later(conn, venue_id, table_id)()


def table_for_order_later(conn: Any, venue_id: str, table_id: str) -> Callable[[], Row | None]:
    """`table_for_order` without waiting: the locks are sent now, and the call this returns
    reads the table. A check sent after it (the open orders on the table) runs once the lock
    is held, so it may go in the same round trip."""
    try:
        table_id = str(uuid.UUID(str(table_id)))
    except ValueError:
        return lambda: None
    held = lock_venue(conn, venue_id)
    sent = conn.execute(
        "SELECT t.id, t.name, t.seats, t.area_id, a.name AS area"
        "  FROM floor_tables t JOIN floor_areas a ON a.id = t.area_id AND a.venue_id = t.venue_id"
        " WHERE t.id = %s AND t.venue_id = %s AND t.active FOR UPDATE OF t",
        (table_id, venue_id),
    )

    def answer() -> Row | None:
        row = sent.fetchone()
        held()
        if row is None:
            return None
        return {**row, "id": str(row["id"]), "area_id": str(row["area_id"])}
    return answer
