"""Orders in PostgreSQL: load one, save what changed, number them by business day.

`save` writes the order row only if its version is still the one the actor loaded: another
actor's transaction (a merge, a split) may have changed it, and then the actor rebuilds its
state and runs the command again (`StaleState`).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

from psycopg.types.json import Jsonb

from fynlo.orders.model import (
    KitchenStatus, Line, LineState, Modifier, Order, OrderKind, OrderStatus, PaymentStatus, Ticket, TicketStatus,
)
from fynlo.orders.totals import Discount, Gratuity, ServiceCharge
from fynlo.runtime.entity import StaleState

STALE_ORDER = "FY002"  # the SQLSTATE of a save whose order another transaction changed


def business_date(now: datetime, timezone: str, day_start: str) -> date:
    """The venue's trading day: a sale at 01:30 belongs to yesterday when the day starts at 04:00."""
    hours, minutes = (int(part) for part in day_start.split(":"))
    local = now.astimezone(ZoneInfo(timezone))
    return (local - timedelta(hours=hours, minutes=minutes)).date()


def next_number(conn: Any, venue_id: str, day: date) -> int:
    """The next order number of the day, kept right by the counter row's lock, not by an actor."""
    return number_later(conn, venue_id, day)()


def number_later(conn: Any, venue_id: str, day: date) -> Callable[[], int]:
    """`next_number` without waiting for the answer: take the number now, and call what this
    returns to read it once the statements sent after it need answering anyway."""
    sent = conn.execute(
        "INSERT INTO order_counters (venue_id, business_date, last_number) VALUES (%s, %s, 1)"
        " ON CONFLICT (venue_id, business_date) DO UPDATE SET last_number = order_counters.last_number + 1"
        " RETURNING last_number",
        (venue_id, day),
    )
    return lambda: int(sent.fetchone()["last_number"])


def _discount(raw: dict[str, Any] | None) -> tuple[Discount | None, str]:
    if not raw:
        return None, ""
    return Discount(raw["kind"], raw["value"]), raw.get("reason", "")


def _discount_doc(discount: Discount | None, reason: str) -> dict[str, Any] | None:
    return None if discount is None else {"kind": discount.kind, "value": discount.value, "reason": reason}


def _line(row: dict[str, Any]) -> Line:
    discount, reason = _discount(row["discount"])
    share = row["share"]
    return Line(
        id=str(row["id"]), item_id=str(row["item_id"]), name=row["name"], unit_price=row["unit_price"],
        quantity=row["quantity"], modifiers=tuple(Modifier(**m) for m in row["modifiers"]),
        station=row["station"], vat_eat_in=row["vat_eat_in"], vat_takeaway=row["vat_takeaway"],
        position=row["position"], allergens=tuple(row["allergens"]), note=row["note"], seat=row["seat"],
        course=row["course"], state=LineState(row["state"]), discount=discount, discount_reason=reason,
        share=None if share is None else (share["index"], share["parts"]), sent_at=row["sent_at"],
        void_reason=row["void_reason"] or "", voided_by=str(row["voided_by"]) if row["voided_by"] else None,
    )


def _ticket(row: dict[str, Any]) -> Ticket:
    return Ticket(
        id=str(row["id"]), station=row["station"], course=row["course"], kind=row["kind"],
        status=TicketStatus(row["status"]), lines=tuple(row["lines"]), created_at=row["created_at"],
        fired_at=row["fired_at"], started_at=row["started_at"], bumped_at=row["bumped_at"],
    )


def load(conn: Any, venue_id: str, order_id: str, *, lock: bool = False) -> Order | None:
    """The order as stored, or None (also for another venue's order).

    The three queries are sent before any answer is read: one round trip when pipelined.
    """
    order = conn.execute(
        "SELECT * FROM orders WHERE id = %s AND venue_id = %s" + (" FOR UPDATE" if lock else ""),
        (order_id, venue_id),
    )
    lines = conn.execute("SELECT * FROM order_lines WHERE order_id = %s AND venue_id = %s ORDER BY position",
                         (order_id, venue_id))
    tickets = conn.execute("SELECT * FROM kitchen_tickets WHERE order_id = %s AND venue_id = %s"
                           " ORDER BY created_at, station, course", (order_id, venue_id))
    row = order.fetchone()
    if row is None:
        return None
    discount, reason = _discount(row["discount"])
    sc, gr = row["service_charge"], row["gratuity"]
    return Order(
        id=str(row["id"]), venue_id=str(row["venue_id"]), number=row["number"], business_date=row["business_date"],
        kind=OrderKind(row["kind"]), table_id=str(row["table_id"]) if row["table_id"] else None,
        covers=row["covers"], version=row["version"], opened_by=str(row["opened_by"]) if row["opened_by"] else None,
        opened_at=row["opened_at"], status=OrderStatus(row["status"]),
        payment_status=PaymentStatus(row["payment_status"]), kitchen_status=KitchenStatus(row["kitchen_status"]),
        current_course=row["current_course"], lines=tuple(_line(r) for r in lines.fetchall()),
        tickets=tuple(_ticket(r) for r in tickets.fetchall()), discount=discount, discount_reason=reason,
        service_charge=ServiceCharge(sc["rate"], sc["mandatory"], sc.get("rounding", 0)) if sc else None,
        gratuity=Gratuity(gr.get("percent"), gr.get("amount"), gr.get("rounding", 0)) if gr else None,
        paid=row["paid"], closed_at=row["closed_at"], cancel_reason=row["cancel_reason"] or "", related=row["related"],
    )


_ORDER_FIELDS = """kind = %(kind)s, table_id = %(table_id)s, covers = %(covers)s, status = %(status)s,
    payment_status = %(payment_status)s, kitchen_status = %(kitchen_status)s, version = %(version)s,
    current_course = %(current_course)s, discount = %(discount)s, service_charge = %(service_charge)s,
    gratuity = %(gratuity)s, total = %(total)s, paid = %(paid)s, closed_at = %(closed_at)s,
    cancel_reason = %(cancel_reason)s, related = %(related)s"""


def _order_params(order: Order) -> dict[str, Any]:
    sc, gr = order.service_charge, order.gratuity
    return {
        "id": order.id, "venue_id": order.venue_id, "number": order.number, "business_date": order.business_date,
        "kind": str(order.kind), "table_id": order.table_id, "covers": order.covers, "status": str(order.status),
        "payment_status": str(order.payment_status), "kitchen_status": str(order.kitchen_status),
        "version": order.version, "current_course": order.current_course,
        "discount": _jsonb(_discount_doc(order.discount, order.discount_reason)),
        "service_charge": None if sc is None else Jsonb({"rate": sc.rate, "mandatory": sc.mandatory,
                                                        **({"rounding": sc.rounding} if sc.rounding else {})}),
        "gratuity": None if gr is None else Jsonb({"percent": gr.percent, "amount": gr.amount,
                                                   **({"rounding": gr.rounding} if gr.rounding else {})}),
        "total": order.totals().total, "paid": order.paid, "closed_at": order.closed_at,
        "cancel_reason": order.cancel_reason or None, "related": Jsonb(order.related), "opened_by": order.opened_by,
        "opened_at": order.opened_at,
    }


def save(conn: Any, old: Order | None, new: Order) -> Order:
    """Write `new` (its version one past `old`'s) and whatever lines and tickets changed.

    Nothing here waits for an answer: the version check is made by the UPDATE's own statement,
    which fails the transaction when another one changed the order (`StaleState`).
    """
    new = new.with_changes(version=1 if old is None else old.version + 1)
    params = _order_params(new)
    if old is None:
        conn.execute(
            "INSERT INTO orders (id, venue_id, number, business_date, opened_by, opened_at, kind, table_id, covers,"
            " status, payment_status, kitchen_status, version, current_course, discount, service_charge, gratuity,"
            " total, paid, closed_at, cancel_reason, related) VALUES (%(id)s, %(venue_id)s, %(number)s,"
            " %(business_date)s, %(opened_by)s, %(opened_at)s, %(kind)s, %(table_id)s, %(covers)s, %(status)s,"
            " %(payment_status)s, %(kitchen_status)s, %(version)s, %(current_course)s, %(discount)s,"
            " %(service_charge)s, %(gratuity)s, %(total)s, %(paid)s, %(closed_at)s, %(cancel_reason)s, %(related)s)",
            params,
        )
    else:
        params["expected"], params["stale"] = old.version, STALE_ORDER
        conn.translate(STALE_ORDER, lambda exc: StaleState(f"order {new.id} changed under its actor"))
        conn.execute(
            f"WITH u AS (UPDATE orders SET {_ORDER_FIELDS} WHERE id = %(id)s AND version = %(expected)s RETURNING 1)"
            " SELECT fynlo_check(EXISTS (SELECT 1 FROM u), %(stale)s, 'the order changed under its actor')", params
        )
    _save_lines(conn, old, new)
    _save_tickets(conn, old, new)
    return new


def _save_lines(conn: Any, old: Order | None, new: Order) -> None:
    before = {ln.id: ln for ln in old.lines} if old else {}
    after = {ln.id for ln in new.lines}
    gone = [line_id for line_id in before if line_id not in after]
    if gone:
        conn.execute("DELETE FROM order_lines WHERE id = ANY(%s) AND order_id = %s", (gone, new.id))
    _upsert_lines(conn, new, [line for line in new.lines if before.get(line.id) != line])


def _jsonb(doc: Any) -> Jsonb | None:
    return None if doc is None else Jsonb(doc)


def _when(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


# Changed rows go as one JSON array: one statement for any number of rows, and the same text
# each time, so psycopg parses it once and PostgreSQL plans it once (it is prepared after a
# few uses); a VALUES list with a placeholder per value was a new statement for every count.
_UPSERT_LINES = (
    "INSERT INTO order_lines (id, order_id, venue_id, position, item_id, name, unit_price, quantity, modifiers, note,"
    " seat, course, station, allergens, vat_eat_in, vat_takeaway, state, discount, share, sent_at, void_reason,"
    " voided_by)"
    " SELECT id, order_id, venue_id, position, item_id, name, unit_price, quantity, modifiers, note, seat, course,"
    " station, allergens, vat_eat_in, vat_takeaway, state, discount, share, sent_at, void_reason, voided_by"
    " FROM jsonb_populate_recordset(NULL::order_lines, %s)"
    " ON CONFLICT (id) DO UPDATE SET order_id = EXCLUDED.order_id, position = EXCLUDED.position,"
    " quantity = EXCLUDED.quantity, modifiers = EXCLUDED.modifiers, note = EXCLUDED.note, seat = EXCLUDED.seat,"
    " course = EXCLUDED.course, state = EXCLUDED.state, discount = EXCLUDED.discount, share = EXCLUDED.share,"
    " sent_at = EXCLUDED.sent_at, void_reason = EXCLUDED.void_reason, voided_by = EXCLUDED.voided_by"
    " WHERE order_lines.venue_id = EXCLUDED.venue_id"
)
_UPSERT_TICKETS = (
    "INSERT INTO kitchen_tickets (id, venue_id, order_id, station, course, kind, status, lines, created_at, fired_at,"
    " started_at, bumped_at)"
    " SELECT id, venue_id, order_id, station, course, kind, status, lines, created_at, fired_at, started_at,"
    " bumped_at FROM jsonb_populate_recordset(NULL::kitchen_tickets, %s)"
    " ON CONFLICT (id) DO UPDATE SET order_id = EXCLUDED.order_id, status = EXCLUDED.status,"
    " fired_at = EXCLUDED.fired_at, started_at = EXCLUDED.started_at, bumped_at = EXCLUDED.bumped_at"
    " WHERE kitchen_tickets.venue_id = EXCLUDED.venue_id"
)


def _upsert_lines(conn: Any, order: Order, lines: list[Line]) -> None:
    """Write the lines as they stand on `order` (one may have come from another order), in one
    statement: each statement costs the driver and PostgreSQL more than a row."""
    if not lines:
        return
    conn.execute(_UPSERT_LINES, (Jsonb([{
        "id": line.id, "order_id": order.id, "venue_id": order.venue_id, "position": line.position,
        "item_id": line.item_id, "name": line.name, "unit_price": line.unit_price, "quantity": line.quantity,
        "modifiers": [asdict(m) for m in line.modifiers], "note": line.note, "seat": line.seat,
        "course": line.course, "station": line.station, "allergens": list(line.allergens),
        "vat_eat_in": line.vat_eat_in, "vat_takeaway": line.vat_takeaway, "state": str(line.state),
        "discount": _discount_doc(line.discount, line.discount_reason),
        "share": None if line.share is None else {"index": line.share[0], "parts": line.share[1]},
        "sent_at": _when(line.sent_at), "void_reason": line.void_reason or None, "voided_by": line.voided_by,
    } for line in lines]),))


def _save_tickets(conn: Any, old: Order | None, new: Order) -> None:
    before = {t.id: t for t in old.tickets} if old else {}
    changed = [ticket for ticket in new.tickets if before.get(ticket.id) != ticket]
    if not changed:
        return
    conn.execute(_UPSERT_TICKETS, (Jsonb([{
        "id": ticket.id, "venue_id": new.venue_id, "order_id": new.id, "station": ticket.station,
        "course": ticket.course, "kind": ticket.kind, "status": str(ticket.status), "lines": list(ticket.lines),
        "created_at": _when(ticket.created_at), "fired_at": _when(ticket.fired_at),
        "started_at": _when(ticket.started_at), "bumped_at": _when(ticket.bumped_at),
    } for ticket in changed]),))


def open_on_table_later(conn: Any, venue_id: str, table_id: str) -> Callable[[], list[str]]:
    """The ids of the open orders on a table; the statement sent now, read when asked."""
    sent = conn.execute("SELECT id FROM orders WHERE venue_id = %s AND table_id = %s AND status = 'open'",
                        (venue_id, table_id))
    return lambda: [str(r["id"]) for r in sent.fetchall()]


def now(conn: Any) -> datetime:
    """The command's time: every timestamp a command writes is the same instant.

    PostgreSQL's `now()`, which a command read with BEGIN, or, for one that went on without
    waiting for that read, PostgreSQL's time carried forward (`fynlo/commands/unit.py`);
    anything else asks.
    """
    memo = getattr(conn, "memo", {})
    if "now" not in memo and getattr(conn, "read_start", None) is not None:
        conn.read_start()  # a command that went on without its first read's answer
    return memo["now"] if "now" in memo else conn.execute("SELECT now() AS t").fetchone()["t"]

