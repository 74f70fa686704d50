"""Card payments through Stripe PaymentIntents: in person (a reader or Tap to Pay on iPhone,
`card_present`) and in-app (Apple Pay, Google Pay, card).

`payment.card_start` records a pending payment and, while that commits, creates the intent
outside the order's mailbox (fynlo/commands/calls.py, an `early` call: the client secret
reaches the terminal only once the payment is committed) with an idempotency key derived from
the payment id, so a retry after a timeout or a crash gets the same intent back, never a
second one. The tip is
chosen before the card is presented and is part of the intent's amount. The customer pays on
the device; Stripe tells us by webhook (fynlo/payments/callbacks.py), and `payment.card_refresh`
asks Stripe directly when a terminal cannot wait. "Paid" means Stripe says `succeeded`;
`requires_capture` is an authorisation (a tab), captured later for at most what it holds.
"""

from __future__ import annotations

from typing import Any

from fynlo.commands.calls import OutsideCall
from fynlo.commands.spec import write
from fynlo.commands.unit import Tx
from fynlo.errors import Conflict, FynloError, NotFound, PaymentDeclined, ValidationError
from fynlo.orders.commands import Result, order_actor
from fynlo.orders.model import Order
from fynlo.payments import repo
from fynlo.payments.args import CaptureArgs, CardStartArgs, PaymentArgs
from fynlo.payments.commands import check_amount, due, existing_later, payable, starting_later
from fynlo.payments.model import Method, Status, fees
from fynlo.payments.settle import end_unless_in_doubt, fee_rates, move
from fynlo.payments.stripe_gateway import Intent
from fynlo.venues.commands import read_venue

MAX_HOLD = 10_000_00    # the most a tab may pre-authorise, tip included, in minor units (£10,000)


def intent_key(payment_id: str, step: str = "create") -> str:
    return f"fynlo-{payment_id}-{step}"


# The intent statuses `apply_intent` moves a payment for; any other leaves it as it stands,
# unless the intent carries a decline.
_MOVES = frozenset({"succeeded", "requires_capture", "canceled"})


def apply_intent(tx: Tx, order: Order, payment: dict[str, Any], intent: Intent) -> tuple[dict[str, Any], Order]:
    """What Stripe says of the intent, applied to our payment (forward moves only)."""
    if payment["provider_ref"] is None:
        payment = repo.update(tx.conn, payment, provider_ref=intent.id)
    if intent.status == "succeeded":
        return move(tx, order, payment, Status.SUCCEEDED, captured=intent.amount_received)
    if intent.status == "requires_capture":
        return move(tx, order, payment, Status.AUTHORISED, authorised=intent.amount_capturable)
    if intent.status == "canceled":
        return move(tx, order, payment, Status.CANCELED)
    waiting = payment["status"] == Status.PENDING   # a decline that arrives after success is old news
    if waiting and intent.failure and (payment["details"] or {}).get("failure") != intent.failure:
        # Declined, but the intent lives on: the customer may try another card on it.
        details = {**(payment["details"] or {}), "failure": intent.failure}
        payment = repo.update(tx.conn, payment, details=details)
        tx.emit("payment.declined", repo.view(payment))
    return payment, order


def _card_result(payment: dict[str, Any], order: Order) -> dict[str, Any]:
    return {**repo.view(payment), "client_secret": (payment["details"] or {}).get("client_secret"),
            "order": order.view()}


@write("payment.card_start", CardStartArgs, actor=order_actor)
def card_start(tx: Tx, order: Order | None, args: CardStartArgs) -> Result:
    order = payable(order)
    manual = args.capture == "manual"
    found = existing_later(tx, args, Method.CARD, amount=args.amount, tip=args.tip)
    start = starting_later(tx, order, Method.CARD)
    payment = found()
    if payment is None:
        payment = _start(tx, order, args, manual, start())
    elif payment["status"] in (Status.AUTHORISED, Status.SUCCEEDED):
        return _card_result(payment, order), order
    elif payment["status"] != Status.PENDING:
        raise Conflict(f"this payment is {payment['status']}; start a new one", reason="payment_closed",
                       status=payment["status"])
    started = payment

    async def create(providers: Any) -> Intent:
        return await _intent_of(providers, tx, started)

    def answer(outcome: Intent | FynloError) -> dict[str, Any] | None:
        """The reply `_started` will record for an intent that waits for its card."""
        if not isinstance(outcome, Intent) or outcome.status in _MOVES or outcome.failure:
            return None
        return _card_result(_with_intent(started, outcome), order)

    return OutsideCall(run=create, finish=_started, answer=answer, early=True), order


def _start(tx: Tx, order: Order, args: CardStartArgs, manual: bool, owed_and_till: tuple[int, str | None]
           ) -> dict[str, Any]:
    owed, till_id = owed_and_till
    settings = read_venue(tx.conn, tx.venue_id).settings
    if manual:
        if args.amount + args.tip > MAX_HOLD:
            raise ValidationError("that hold is too large", field="amount", max=MAX_HOLD)
        surcharge = 0
    else:
        check_amount(args.amount, owed)
        surcharge = fees(Method.CARD, args.amount + args.tip, fee_rates(settings),
                         decline_surcharge=args.decline_surcharge).surcharge
    payment = repo.insert(tx.conn, {
        "id": str(args.payment_id), "venue_id": tx.venue_id, "order_id": order.id, "method": Method.CARD,
        "status": Status.PENDING, "amount": args.amount, "tip": args.tip, "surcharge": surcharge,
        "fee_declined": settings.fees_to_customer and args.decline_surcharge,
        "authorised": args.amount + args.tip if manual else 0,
        "provider_key": intent_key(str(args.payment_id)), "staff_id": tx.principal.staff_id,
        "terminal_id": tx.principal.terminal_id, "till_id": till_id,
        "details": {"present": args.present, "capture": args.capture, "currency": settings.currency},
    })
    tx.emit("payment.started", repo.view(payment))
    return payment


def _started(tx: Tx, order: Order, outcome: Intent | FynloError) -> tuple[Any, Order]:
    payment = repo.get(tx.conn, tx.venue_id, str(tx.command.args["payment_id"]), lock=True)
    assert payment is not None
    if isinstance(outcome, FynloError):
        end_unless_in_doubt(tx, order, payment, outcome)
        return outcome, order
    payment = repo.update(tx.conn, payment, details=_with_intent(payment, outcome)["details"])
    payment, order = apply_intent(tx, order, payment, outcome)
    return _card_result(payment, order), order


def _with_intent(payment: dict[str, Any], intent: Intent) -> dict[str, Any]:
    return {**payment, "details": {**(payment["details"] or {}), "client_secret": intent.client_secret,
                                   "intent": intent.id}}


def _require(tx: Tx, args: PaymentArgs, *statuses: Status) -> dict[str, Any]:
    payment = repo.get(tx.conn, tx.venue_id, str(args.payment_id))
    if payment is None or str(payment["order_id"]) != str(args.order_id) or payment["method"] != Method.CARD:
        raise NotFound("no such card payment on this order", payment_id=str(args.payment_id))
    if payment["status"] not in statuses:
        raise Conflict(f"the payment is {payment['status']}", reason="payment_state", status=payment["status"])
    return payment


@write("payment.card_capture", CaptureArgs, actor=order_actor)
def card_capture(tx: Tx, order: Order | None, args: CaptureArgs) -> Result:
    """Settle a tab: take at most what the card holds, never more than the order owes."""
    if order is None:
        raise NotFound("no such order")
    payment = _require(tx, args, Status.AUTHORISED, Status.SUCCEEDED)
    if payment["status"] == Status.SUCCEEDED:
        return _card_result(payment, order), order
    if args.amount > payment["authorised"]:
        raise ValidationError("more than the card holds", field="amount", reason="exceeds_authorised",
                              authorised=payment["authorised"])
    check_amount(args.amount - args.tip, due(tx, order))
    payment = repo.update(tx.conn, payment, amount=args.amount - args.tip, tip=args.tip)
    intent_id, pid = payment["provider_ref"], str(payment["id"])

    async def capture(providers: Any) -> Intent:
        return await providers.stripe.capture(intent_id, amount=args.amount, key=intent_key(pid, f"capture-{args.amount}"))

    return OutsideCall(run=capture, finish=_applied), order


@write("payment.card_cancel", PaymentArgs, actor=order_actor)
def card_cancel(tx: Tx, order: Order | None, args: PaymentArgs) -> Result:
    """Give up on a card attempt (the customer walked away, a tab released)."""
    if order is None:
        raise NotFound("no such order")
    payment = _require(tx, args, Status.PENDING, Status.AUTHORISED, Status.CANCELED)
    if payment["status"] == Status.CANCELED:
        return _card_result(payment, order), order
    pid, intent_id = str(payment["id"]), payment["provider_ref"]

    async def cancel(providers: Any) -> Intent:
        ref = intent_id or (await _intent_of(providers, tx, payment)).id
        return await providers.stripe.cancel(ref, key=intent_key(pid, "cancel"))

    return OutsideCall(run=cancel, finish=_applied), order


async def _intent_of(providers: Any, tx: Tx, payment: dict[str, Any]) -> Intent:
    """The intent a pending payment's create may have made before we heard back: asking again
    with the same key returns it (or makes it, to be cancelled at once)."""
    details = payment["details"] or {}
    manual = details.get("capture") == "manual"
    total = payment["authorised"] if manual else payment["amount"] + payment["tip"] + payment["surcharge"]
    metadata = {"venue_id": tx.venue_id, "order_id": str(payment["order_id"]), "payment_id": str(payment["id"])}
    return await providers.stripe.create_intent(
        key=payment["provider_key"], amount=total, currency=details["currency"], present=bool(details.get("present")),
        manual_capture=manual, metadata=metadata)


@write("payment.card_refresh", PaymentArgs, actor=order_actor)
def card_refresh(tx: Tx, order: Order | None, args: PaymentArgs) -> Result:
    """Ask Stripe where the payment stands (a terminal that cannot wait for the webhook)."""
    if order is None:
        raise NotFound("no such order")
    payment = _require(tx, args, *Status)
    intent_id = payment["provider_ref"]
    if intent_id is None:
        raise Conflict("the payment has no intent yet; retry payment.card_start", reason="payment_state")

    async def retrieve(providers: Any) -> Intent:
        return await providers.stripe.retrieve_intent(intent_id)

    return OutsideCall(run=retrieve, finish=_refreshed), order


def _applied(tx: Tx, order: Order, outcome: Intent | FynloError) -> tuple[Any, Order]:
    if isinstance(outcome, FynloError):
        return outcome, order
    payment = repo.get(tx.conn, tx.venue_id, str(tx.command.args["payment_id"]), lock=True)
    assert payment is not None
    payment, order = apply_intent(tx, order, payment, outcome)
    return _card_result(payment, order), order


def _refreshed(tx: Tx, order: Order, outcome: Intent | FynloError) -> tuple[Any, Order]:
    result, order = _applied(tx, order, outcome)
    if isinstance(outcome, Intent) and outcome.status == "requires_payment_method" and outcome.failure:
        return PaymentDeclined("the card was declined", decline_code=outcome.failure), order
    return result, order
