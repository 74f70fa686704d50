"""Open-banking QR payments: the customer scans, approves in their bank's app, the bank calls back.

`payment.qr_start` records a pending payment with a unique reference and an expiry (the
venue's `qr_expiry_minutes`, 15 by default), asks the bank for a payment request outside the
order's mailbox while that commits (an `early` call, fynlo/commands/calls.py), and answers
with the URL and its QR code once both are done. The bank's signed callback marks it
paid — nobody confirms it by eye. At expiry the sweep marks it `expired` (`payment.expired`:
the terminal may offer a card instead); a callback that still arrives later is recorded as
paid and flagged for review, because the money has left the customer's account.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fynlo.commands.calls import OutsideCall
from fynlo.commands.spec import write
from fynlo.commands.unit import Tx
from fynlo.errors import Conflict, FynloError
from fynlo.orders.commands import Result, order_actor
from fynlo.orders.model import Order
from fynlo.payments import repo
from fynlo.payments.args import QrStartArgs
from fynlo.payments.commands import check_amount, existing_later, payable, starting_later
from fynlo.payments.model import Method, Status, fees
from fynlo.payments.openbanking import BankRequest
from fynlo.payments.qr import qr_svg
from fynlo.payments.settle import end_unless_in_doubt, fee_rates, now
from fynlo.venues.commands import read_venue


def _result(payment: dict[str, Any], order: Order) -> dict[str, Any]:
    details = payment["details"] or {}
    url = details.get("qr_url")
    return {**repo.view(payment), "qr_url": url, "qr_svg": qr_svg(url) if url else None, "order": order.view()}


@write("payment.qr_start", QrStartArgs, actor=order_actor)
def qr_start(tx: Tx, order: Order | None, args: QrStartArgs) -> Result:
    """Start a QR payment: record it pending, ask the bank for a request and reply with its URL and
    QR code; refuses more than the order owes, a QR already waiting, or a payment id used for another."""
    order = payable(order)
    found = existing_later(tx, args, Method.OPEN_BANKING, amount=args.amount)
    start = starting_later(tx, order, Method.OPEN_BANKING)
    payment = found()
    if payment is None:
        payment = _start(tx, order, args, start())
    elif payment["status"] == Status.SUCCEEDED or (payment["details"] or {}).get("qr_url"):
        return _result(payment, order), order
    elif payment["status"] != Status.PENDING:
        raise Conflict(f"this payment is {payment['status']}; start a new one", reason="payment_closed",
                       status=payment["status"])
    row, settings = payment, read_venue(tx.conn, tx.venue_id).settings

    async def create(providers: Any) -> BankRequest:
        # Exactly the first request's body on a retry, or the bank refuses the key.
        details = row["details"]
        request: BankRequest = await providers.bank.create_request(
            key=row["provider_key"], amount=row["amount"] + row["surcharge"], currency=settings.currency,
            reference=details["reference"], expires_at=row["expires_at"],
            metadata={"venue_id": tx.venue_id, "order_id": order.id, "payment_id": str(row["id"])})
        # Drawn here and kept for the reply: about a millisecond of pure Python, which a worker
        # thread would run holding the GIL all the same, after waking for it.
        qr_svg(request.url)
        return request

    def answer(outcome: BankRequest | FynloError) -> dict[str, Any] | None:
        """The reply `_started` will record for the bank's request."""
        return None if isinstance(outcome, FynloError) else _result(_with_request(row, outcome), order)

    return OutsideCall(run=create, finish=_started, answer=answer, early=True), order


def _start(tx: Tx, order: Order, args: QrStartArgs, owed_and_till: tuple[int, str | None]) -> dict[str, Any]:
    owed, till_id = owed_and_till
    check_amount(args.amount, owed)
    settings = read_venue(tx.conn, tx.venue_id).settings
    surcharge = fees(Method.OPEN_BANKING, args.amount, fee_rates(settings),
                     decline_surcharge=args.decline_surcharge).surcharge
    pid = str(args.payment_id)
    reference = f"FYN{order.number:04d}-{pid.replace('-', '')[:10].upper()}"
    payment = repo.insert(tx.conn, {
        "id": pid, "venue_id": tx.venue_id, "order_id": order.id, "method": Method.OPEN_BANKING,
        "status": Status.PENDING, "amount": args.amount, "surcharge": surcharge,
        "fee_declined": settings.fees_to_customer and args.decline_surcharge, "provider_key": f"fynlo-{pid}-request",
        "staff_id": tx.principal.staff_id, "terminal_id": tx.principal.terminal_id, "till_id": till_id,
        "expires_at": now(tx) + timedelta(minutes=settings.qr_expiry_minutes), "details": {"reference": reference},
    })
    tx.emit("payment.started", repo.view(payment))
    return payment


def _started(tx: Tx, order: Order, outcome: BankRequest | FynloError) -> tuple[Any, Order]:
    payment = repo.get(tx.conn, tx.venue_id, str(tx.command.args["payment_id"]), lock=True)
    assert payment is not None
    if isinstance(outcome, FynloError):
        end_unless_in_doubt(tx, order, payment, outcome)
        return outcome, order
    changed = _with_request(payment, outcome)
    payment = repo.update(tx.conn, payment, provider_ref=changed["provider_ref"], details=changed["details"])
    tx.emit("payment.qr_ready", repo.view(payment))
    return _result(payment, order), order


def _with_request(payment: dict[str, Any], request: BankRequest) -> dict[str, Any]:
    return {**payment, "provider_ref": request.id, "details": {**payment["details"], "qr_url": request.url}}
