"""The order's print jobs: kitchen tickets and bills (fynlo/printing/jobs.py stores them)."""

from __future__ import annotations

from typing import Any

from fynlo.commands.unit import Tx
from fynlo.orders.model import Order, Ticket
from fynlo.printing.jobs import queue

RECEIPT_STATION = "receipt"


def table_name(tx: Tx, order: Order) -> str | None:
    if order.table_id is None:
        return None
    row = tx.conn.execute("SELECT name FROM floor_tables WHERE id = %s", (order.table_id,)).fetchone()
    return row["name"] if row else None


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
