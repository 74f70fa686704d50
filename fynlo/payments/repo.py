"""Payments and refunds in PostgreSQL (rows as dicts; the order actor is their only writer).

A `…_later` function sends its statement and returns the call that reads the answer: a
command sends what it will need together and waits for PostgreSQL once (fynlo/db/pool.py).
"""

from __future__ import annotations

import json
from typing import Any, Callable, TypeVar
from uuid import UUID

from psycopg.types.json import Jsonb

from fynlo.orders.repo import now as transaction_now

T = TypeVar("T")
Later = Callable[[], T]

_COLUMNS = ("id", "venue_id", "order_id", "method", "status", "amount", "tip", "surcharge", "fee_declined",
            "authorised", "tendered", "change", "till_id", "provider_key", "details", "staff_id",
            "terminal_id", "expires_at")
# The other columns of a new payment, as their defaults (migration 0007) leave them.
_INSERT_DEFAULTS = {"processing_fee": 0, "platform_fee": 0, "captured": 0, "refunded": 0, "provider_ref": None,
                    "needs_review": False, "review_reason": None, "receipt_number": None, "settled_at": None}
_UUID_COLUMNS = ("id", "venue_id", "order_id", "till_id", "staff_id", "terminal_id")


def insert(conn: Any, row: dict[str, Any]) -> dict[str, Any]:
    """Add a payment; return it as stored. The row is built here rather than read back, so the
    INSERT goes out without waiting for PostgreSQL: no trigger touches a payment, the defaults
    of the columns not given are constants, and `created_at` is the command's time, given.
    Values have the types psycopg reads back."""
    values = {k: row.get(k) for k in _COLUMNS}
    details = json.loads(json.dumps(values["details"] or {}))
    values.update(details=Jsonb(details), tip=values["tip"] or 0, surcharge=values["surcharge"] or 0,
                  fee_declined=bool(values["fee_declined"]), authorised=values["authorised"] or 0,
                  method=str(values["method"]), status=str(values["status"]), created_at=transaction_now(conn))
    cols = ", ".join((*_COLUMNS, "created_at"))
    marks = ", ".join(f"%({k})s" for k in (*_COLUMNS, "created_at"))
    conn.execute(f"INSERT INTO payments ({cols}) VALUES ({marks})", values)
    stored = {**values, **_INSERT_DEFAULTS, "details": details}
    for key in _UUID_COLUMNS:
        if stored[key] is not None and not isinstance(stored[key], UUID):
            stored[key] = UUID(str(stored[key]))
    return stored


def get(conn: Any, venue_id: str, payment_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    """The payment, or None (also for another venue's); `lock` takes its row lock."""
    return get_later(conn, venue_id, payment_id, lock=lock)()


def get_later(conn: Any, venue_id: str, payment_id: str, *, lock: bool = False) -> Later[dict[str, Any] | None]:
    """`get` without waiting: the statement goes now, the answer when the returned call asks."""
    sql = "SELECT * FROM payments WHERE id = %s AND venue_id = %s" + (" FOR UPDATE" if lock else "")
    return conn.execute(sql, (payment_id, venue_id)).fetchone


def by_provider_ref(conn: Any, method: str, ref: str) -> dict[str, Any] | None:
    """The payment the provider of `method` knows by `ref`, or None."""
    return conn.execute("SELECT * FROM payments WHERE method = %s AND provider_ref = %s", (method, ref)).fetchone()


def for_order(conn: Any, order_id: str) -> list[dict[str, Any]]:
    """Every payment of the order, oldest first."""
    return for_order_later(conn, order_id)()


def for_order_later(conn: Any, order_id: str) -> Later[list[dict[str, Any]]]:
    """`for_order` without waiting: the statement goes now, the answer when the returned call asks."""
    return conn.execute("SELECT * FROM payments WHERE order_id = %s ORDER BY created_at, id", (order_id,)).fetchall


def update(conn: Any, row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Change a payment; returns `row` with the changes, built here rather than read back
    (no trigger touches a payment, so the stored row is exactly that)."""
    stored = {k: Jsonb(v) if k == "details" else v for k, v in changes.items()}
    sets = ", ".join(f"{k} = %({k})s" for k in changes)
    conn.execute(f"UPDATE payments SET {sets} WHERE id = %(_id)s", {**stored, "_id": row["id"]})
    return {**row, **changes}


def collected_later(conn: Any, order_id: str) -> Later[tuple[int, int]]:
    """(paid towards the order, refunded) over its succeeded payments."""
    sent = conn.execute(
        "SELECT coalesce(sum(amount), 0) AS paid, coalesce(sum(refunded), 0) AS refunded"
        " FROM payments WHERE order_id = %s AND status = 'succeeded'", (order_id,))

    def answer() -> tuple[int, int]:
        row = sent.fetchone()
        return int(row["paid"]), int(row["refunded"])
    return answer


def held_later(conn: Any, order_id: str) -> Later[int]:
    """What pending attempts (a card on the reader, a QR on screen) may still bring in; a tab's
    hold is not counted: it covers whatever the tab comes to, and is captured for that."""
    sent = conn.execute(
        "SELECT coalesce(sum(amount), 0) AS held FROM payments WHERE order_id = %s AND status = 'pending'"
        " AND coalesce(details->>'capture', '') <> 'manual'", (order_id,))
    return lambda: int(sent.fetchone()["held"])


def next_receipt_number(conn: Any, venue_id: str) -> int:
    """The venue's next receipt number, gap-free: bumped under the venue row lock the
    transaction already holds."""
    return next_receipt_number_later(conn, venue_id)()


def next_receipt_number_later(conn: Any, venue_id: str) -> Later[int]:
    """`next_receipt_number` without waiting: the statement goes now, the number when
    the returned call asks."""
    sent = conn.execute("UPDATE venues SET last_receipt = last_receipt + 1 WHERE id = %s RETURNING last_receipt",
                        (venue_id,))
    return lambda: int(sent.fetchone()["last_receipt"])


def insert_refund(conn: Any, row: dict[str, Any]) -> dict[str, Any]:
    """Add a refund; return it as stored."""
    return conn.execute(
        "INSERT INTO refunds (id, venue_id, payment_id, order_id, amount, status, reason, till_id, approved_by,"
        " staff_id) VALUES (%(id)s, %(venue_id)s, %(payment_id)s, %(order_id)s, %(amount)s, %(status)s,"
        " %(reason)s, %(till_id)s, %(approved_by)s, %(staff_id)s) RETURNING *", row).fetchone()


def get_refund(conn: Any, refund_id: str) -> dict[str, Any] | None:
    """The refund, or None."""
    return conn.execute("SELECT * FROM refunds WHERE id = %s", (refund_id,)).fetchone()


def update_refund(conn: Any, refund_id: str, **changes: Any) -> dict[str, Any]:
    """Change a refund; return it as stored."""
    sets = ", ".join(f"{k} = %({k})s" for k in changes)
    return conn.execute(f"UPDATE refunds SET {sets} WHERE id = %(_id)s RETURNING *",
                        {**changes, "_id": refund_id}).fetchone()


def refunds_pending(conn: Any, payment_id: str) -> int:
    """What the payment's pending refunds add up to."""
    row = conn.execute("SELECT coalesce(sum(amount), 0) AS s FROM refunds WHERE payment_id = %s AND status = 'pending'",
                       (payment_id,)).fetchone()
    return int(row["s"])


def view(row: dict[str, Any]) -> dict[str, Any]:
    """A payment as terminals see it: never a card number, never a client secret."""
    details = row["details"] or {}
    return {
        "payment_id": str(row["id"]), "order_id": str(row["order_id"]), "method": row["method"],
        "status": row["status"], "amount": row["amount"], "tip": row["tip"], "surcharge": row["surcharge"],
        "fee_declined": row["fee_declined"], "authorised": row["authorised"], "captured": row["captured"],
        "refunded": row["refunded"], "tendered": row["tendered"], "change": row["change"],
        "till_id": str(row["till_id"]) if row["till_id"] else None, "receipt_number": row["receipt_number"],
        "staff_id": str(row["staff_id"]) if row["staff_id"] else None,
        "needs_review": row["needs_review"], "review_reason": row["review_reason"],
        "card": details.get("card"), "present": details.get("present"), "capture": details.get("capture"),
        "qr_url": details.get("qr_url"), "reference": details.get("reference"),
        "failure": details.get("failure"),
        "processing_fee": row["processing_fee"], "platform_fee": row["platform_fee"],
        "expires_at": row["expires_at"].isoformat() if row["expires_at"] else None,
        "created_at": row["created_at"].isoformat(),
        "settled_at": row["settled_at"].isoformat() if row["settled_at"] else None,
    }


def refund_view(row: dict[str, Any]) -> dict[str, Any]:
    """A refund as terminals see it."""
    return {
        "refund_id": str(row["id"]), "payment_id": str(row["payment_id"]), "order_id": str(row["order_id"]),
        "amount": row["amount"], "status": row["status"], "reason": row["reason"],
        "till_id": str(row["till_id"]) if row["till_id"] else None, "receipt_number": row["receipt_number"],
        "approved_by": str(row["approved_by"]) if row["approved_by"] else None,
    }
