"""Print jobs: everything a printer or a cash drawer must do, stored before anything prints.

A job names a station (kitchen, bar, receipt); the venue bridge maps stations to printers.
Statuses: queued → sent (the bridge has it in its spool) → printed | failed | unknown. An
`unknown` job (the bridge died or the link dropped mid-job: ESC/POS cannot say whether it came
out) is never printed again as an original; it is reprinted as a marked COPY, automatically for
kitchen tickets, on request (`job.reprint`) for the rest.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

from fynlo.commands.unit import Tx

FINAL = frozenset({"printed", "failed", "unknown"})
AUTO_COPY_KINDS = frozenset({"kitchen_ticket"})


def job_id(tx: Tx, key: str) -> str:
    """Derived from the command id, so a retried command names the same jobs."""
    return str(uuid.uuid5(uuid.UUID(tx.command.id), f"job/{key}"))


def job_view(row: dict[str, Any]) -> dict[str, Any]:
    """What events say of a job (without its document)."""
    return {"job_id": str(row["id"]), "device": row.get("device") or row["station"], "station": row["station"],
            "kind": row["kind"], "order_id": str(row["order_id"]) if row.get("order_id") else None,
            "copy": row["copy"]}


def queue(tx: Tx, *, key: str, kind: str, station: str, order_id: str | None, document: dict[str, Any],
          copy_of: str | None = None) -> str:
    """Store a print job for the venue's bridge and tell every terminal (`job.queued`), built from
    what is inserted rather than read back: no device has taken a new job yet."""
    jid = job_id(tx, key)
    copy = copy_of is not None
    tx.conn.execute(
        "INSERT INTO print_jobs (id, venue_id, order_id, kind, station, copy, copy_of, document)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (jid, tx.venue_id, order_id, kind, station, copy, copy_of, Jsonb(document)),
    )
    tx.emit("job.queued", job_view({"id": jid, "order_id": order_id, "kind": kind, "station": station,
                                    "copy": copy, "device": None}))
    return jid


def copy_job(tx: Tx, original: dict[str, Any], key: str) -> str:
    """A marked COPY of a job: same document, printed with COPY on it."""
    return queue(tx, key=key, kind=original["kind"], station=original["station"],
                 order_id=str(original["order_id"]) if original["order_id"] else None,
                 document=original["document"], copy_of=str(original["id"]))
