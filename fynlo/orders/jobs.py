"""Print jobs: every kitchen ticket and bill is a stored job for the venue's bridge to print.

A job names a station (kitchen, bar, receipt); the bridge maps stations to printers. Terminals
see each job as `job.queued`, then `job.printed` / `job.failed` / `job.unknown` from the bridge.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from fynlo.commands.unit import Tx
from fynlo.orders.model import Order, Ticket

RECEIPT_STATION = "receipt"


def job_id(tx: Tx, key: str) -> str:
    """Derived from the command id, so a retried command names the same jobs."""
    return str(uuid.uuid5(uuid.UUID(tx.command.id), f"job/{key}"))


def queue(tx: Tx, *, key: str, kind: str, station: str, order_id: str | None, document: dict[str, Any],
          copy: bool = False) -> str:
    jid = job_id(tx, key)
    tx.conn.execute(
        "INSERT INTO print_jobs (id, venue_id, order_id, kind, station, copy, document)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (jid, tx.venue_id, order_id, kind, station, copy, Jsonb(document)),
    )
    tx.emit("job.queued", {"job_id": jid, "device": station, "station": station, "kind": kind,
                           "order_id": order_id, "copy": copy})
    return jid


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
