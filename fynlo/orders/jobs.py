"""The order's print jobs: kitchen tickets and bills (fynlo/printing/jobs.py stores them)."""

from __future__ import annotations

from typing import Any

from fynlo.commands.unit import Tx
from fynlo.orders.model import Order, Ticket
from fynlo.printing.jobs import queue

RECEIPT_STATION = "receipt"

# venue id -> (floor version, table id -> name). A renamed table bumps the floor version, which
# a command checks under the venue row lock (fynlo/commands/unit.py).
_NAMES: dict[str, tuple[int, dict[str, str]]] = {}


def table_name(tx: Tx, order: Order) -> str | None:
    """The name of the order's table, from memory while the floor plan keeps its version."""
    if order.table_id is None:
        return None
    version = tx.conn.memo.get("floor_version")
    held = _NAMES.get(tx.venue_id)
    if held is None or held[0] != version:
        rows = tx.conn.execute("SELECT id, name FROM floor_tables WHERE venue_id = %s", (tx.venue_id,)).fetchall()
        names = {str(r["id"]): r["name"] for r in rows}
        if version is None:  # not inside a command: nothing to key the names by
            return names.get(order.table_id)
        held = _NAMES[tx.venue_id] = (version, names)
    return held[1].get(order.table_id)


def queue_tickets(tx: Tx, order: Order, tickets: list[Ticket]) -> None:
    """One kitchen_ticket job per fired ticket (held tickets print when their course fires)."""
    table = table_name(tx, order)
    for ticket in tickets:
        document = {**ticket.view(order), "table": table, "order_kind": str(order.kind)}
        queue(tx, key=f"ticket/{ticket.id}/{ticket.fired_at}", kind="kitchen_ticket", station=ticket.station,
              order_id=order.id, document=document)


def queue_bill(tx: Tx, order: Order, venue: dict[str, Any]) -> str:
    document = {
        "venue": {k: venue.get(k) for k in ("name", "address", "tax_id", "currency")},
        "order": order.view(), "table": table_name(tx, order),
    }
    return queue(tx, key="bill", kind="bill", station=RECEIPT_STATION, order_id=order.id, document=document)
