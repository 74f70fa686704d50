"""Moving a payment on, and its order with it: the one place a payment changes status.

Every path that learns a payment's fate — the command that took it, a provider callback, a
sweep, reconciliation — ends here, in the order actor's transaction (or, for reconciliation,
under the order's row lock). Forward moves only (model.may_move); a success recomputes what
the order has collected, prints a receipt with the venue's next receipt number, and tells
every terminal.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from fynlo.commands.unit import Tx
from fynlo.orders.commands import commit
from fynlo.orders.jobs import RECEIPT_STATION, table_name
from fynlo.orders import repo as orders_repo
from fynlo.orders.model import Order
from fynlo.errors import ProviderUnavailable
from fynlo.payments import repo
from fynlo.payments.repo import Later
from fynlo.payments.providers import never_reached
from fynlo.payments.model import FeeRates, Method, Status, fees, may_move, order_payment_status
from fynlo.printing.jobs import queue
from fynlo.venues.commands import read_venue
from fynlo.venues.model import VenueSettings, printed_header

_EVENTS = {Status.AUTHORISED: "payment.authorised", Status.SUCCEEDED: "payment.succeeded",
           Status.FAILED: "payment.failed", Status.CANCELED: "payment.canceled", Status.EXPIRED: "payment.expired"}


def fee_rates(settings: VenueSettings) -> FeeRates:
    return FeeRates(settings.card_fee_percent, settings.card_fee_fixed, settings.open_banking_fee_percent,
                    settings.platform_fee_percent, settings.fees_to_customer)


def refresh_order(tx: Tx, order: Order, collected: Later[tuple[int, int]] | None = None) -> tuple[dict[str, Any], Order]:
    """The order with what its payments have collected and refunded (`collected`, when the
    caller sent that read already); written if it changed."""
    paid, refunded = (collected or repo.collected_later(tx.conn, order.id))()
    status = order_payment_status(order.totals().total, paid, refunded)
    if paid == order.paid and status == order.payment_status:
        return order.view(), order
    return commit(tx, order, replace(order, paid=paid, payment_status=status), "order.updated")


def move(tx: Tx, order: Order, payment: dict[str, Any], status: Status, **changes: Any) -> tuple[dict[str, Any], Order]:
    """Move `payment` to `status` if that is a forward move; returns the payment row and order.

    A move that is not allowed (a late `payment_failed` after `succeeded`) changes nothing.
    """
    current = Status(payment["status"])
    if not may_move(current, status):
        return payment, order
    if status is Status.SUCCEEDED:
        changes.setdefault("captured", payment["amount"] + payment["tip"] + payment["surcharge"])
        changes.update(_fees(tx, payment, changes["captured"]))
        changes["settled_at"] = now(tx)
        if current is Status.EXPIRED:
            changes.update(needs_review=True, review_reason="paid after its request expired")
        if not order.editable:
            changes.update(needs_review=True, review_reason=f"paid after the order was {order.status}")
    elif status in (Status.FAILED, Status.CANCELED, Status.EXPIRED):
        changes.setdefault("settled_at", now(tx))
    payment = repo.update(tx.conn, payment, status=str(status), **changes)
    if status is Status.SUCCEEDED:
        collected = repo.collected_later(tx.conn, order.id)
        receipt = receipt_later(tx, payment)            # all read at once, with the sums
        _, order = refresh_order(tx, order, collected)
        payment = receipt(order)                        # the event carries the receipt number
    tx.emit(_EVENTS[status], repo.view(payment))
    if payment["needs_review"]:
        tx.emit("payment.review", repo.view(payment))
    return payment, order


def end_unless_in_doubt(tx: Tx, order: Order, payment: dict[str, Any], error: Exception) -> None:
    """A provider call that failed: the attempt is over (failed), unless the provider may have
    acted without our hearing (a timeout, a 5xx), when it stays pending for the retry."""
    if not isinstance(error, ProviderUnavailable) or never_reached(error):
        move(tx, order, payment, Status.FAILED, details={**(payment["details"] or {}), "failure": str(error)})


def _fees(tx: Tx, payment: dict[str, Any], captured: int) -> dict[str, int]:
    settings = read_venue(tx.conn, tx.venue_id).settings
    f = fees(Method(payment["method"]), captured - payment["surcharge"], fee_rates(settings))
    return {"processing_fee": f.processing, "platform_fee": f.platform}


def now(tx: Tx) -> Any:
    """The command's time (`fynlo.orders.repo.now`)."""
    return orders_repo.now(tx.conn)


def venue_header(tx: Tx) -> dict[str, Any]:
    return printed_header(read_venue(tx.conn, tx.venue_id).settings)


def staff_name_later(tx: Tx, staff_id: Any) -> Later[str | None]:
    """The name of a member of staff (None for none); the read sent now, answered when asked."""
    if staff_id is None:
        return lambda: None
    sent = tx.conn.execute("SELECT name FROM staff WHERE id = %s", (staff_id,))

    def answer() -> str | None:
        row = sent.fetchone()
        return row["name"] if row else None
    return answer


def receipt_later(tx: Tx, payment: dict[str, Any]) -> Callable[[Order], dict[str, Any]]:
    """A receipt for a succeeded payment: the order, every payment on it so far, and the
    venue's next receipt number (gap-free: taken in this transaction, under the venue lock).

    What it reads is sent now; call what this returns with the order to print the receipt
    (and get the payment with its number)."""
    number = repo.next_receipt_number_later(tx.conn, tx.venue_id)
    payments = repo.for_order_later(tx.conn, str(payment["order_id"]))
    staff = staff_name_later(tx, payment["staff_id"])

    def printed(order: Order) -> dict[str, Any]:
        numbered = repo.update(tx.conn, payment, receipt_number=number())
        paid = [p for p in payments() if p["status"] == Status.SUCCEEDED]
        document = {
            "venue": venue_header(tx), "order": order.view(), "table": table_name(tx, order),
            "receipt_number": numbered["receipt_number"], "issued_at": now(tx).isoformat(), "staff": staff(),
            "payments": [_receipt_line(p) for p in paid],
        }
        queue(tx, key=f"receipt/{payment['id']}", kind="receipt", station=RECEIPT_STATION, order_id=order.id,
              document=document)
        return numbered
    return printed


def _receipt_line(p: dict[str, Any]) -> dict[str, Any]:
    details = p["details"] or {}
    return {"payment_id": str(p["id"]), "method": p["method"], "amount": p["amount"], "tip": p["tip"],
            "surcharge": p["surcharge"], "tendered": p["tendered"], "change": p["change"],
            "card": details.get("card"), "reference": details.get("reference")}


def kick_drawer(tx: Tx, drawer: str, order_id: str | None, reason: str) -> None:
    queue(tx, key=f"drawer/{reason}", kind="drawer_kick", station=drawer, order_id=order_id,
          document={"drawer": drawer, "reason": reason})
