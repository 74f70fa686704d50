"""What providers tell us, applied in the order's actor: Stripe events, bank callbacks, expiry.

These are the venue's own commands (role `system`), sent by the webhook routes and the sweep
through `Dispatcher.system`, never by a client: their specs are not in the command table.
Each provider event is applied at most once (`provider_events`, in the same transaction), and
forward moves only (model.may_move), so events that arrive twice or out of order are harmless.
"""

from __future__ import annotations

import uuid
from typing import Any, Hashable

from pydantic import Field

from fynlo.auth.principal import Principal
from fynlo.commands.calls import OutsideCall
from fynlo.commands.spec import Args, CommandSpec
from fynlo.commands.unit import Tx
from fynlo.errors import FynloError, NotFound
from fynlo.orders.model import Order
from fynlo.payments import repo
from fynlo.payments.card import apply_intent, intent_key
from fynlo.payments.model import Status
from fynlo.payments.settle import move, now
from fynlo.payments.stripe_gateway import Intent
from fynlo.wire import Command

_NAMESPACE = uuid.UUID("6f1e2d3c-4b5a-4e6f-8a9b-0c1d2e3f4a5b")


def command_for(name: str, cause: str, args: dict[str, Any]) -> Command:
    """A system command whose id is derived from what caused it: the same cause, the same id."""
    return Command(id=str(uuid.uuid5(_NAMESPACE, f"{name}:{cause}")), name=name, args=args)


class EventArgs(Args):
    order_id: str
    payment_id: str
    provider: str                   # stripe | bank
    event_id: str = Field(min_length=1, max_length=255)
    event_type: str
    data: dict[str, Any]            # the event's object


class PaymentRef(Args):
    order_id: str
    payment_id: str


def _order_key(args: Any, principal: Principal) -> Hashable:
    return ("order", str(args.order_id))


def _first_time(tx: Tx, provider: str, event_id: str, kind: str) -> bool:
    row = tx.conn.execute(
        "INSERT INTO provider_events (provider, event_id, venue_id, kind) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING 1", (provider, event_id, tx.venue_id, kind)).fetchone()
    return row is not None


def _payment(tx: Tx, payment_id: str) -> dict[str, Any]:
    payment = repo.get(tx.conn, tx.venue_id, payment_id, lock=True)
    if payment is None:
        raise NotFound("no such payment", payment_id=payment_id)
    return payment


def provider_event(tx: Tx, order: Order | None, args: EventArgs) -> tuple[Any, Order | None]:
    if order is None:
        raise NotFound("no such order")
    if not _first_time(tx, args.provider, args.event_id, args.event_type):
        return {"applied": False, "duplicate": True}, order
    payment = _payment(tx, args.payment_id)
    kind = args.event_type
    if kind.startswith("payment_intent."):
        payment, order = apply_intent(tx, order, payment, Intent.from_stripe(args.data))
    elif kind == "charge.dispute.created":
        reason = f"disputed: {args.data.get('reason', 'unknown')}"
        payment = repo.update(tx.conn, payment, needs_review=True, review_reason=reason)
        tx.emit("payment.disputed", {**repo.view(payment), "dispute": {
            "id": args.data.get("id"), "amount": args.data.get("amount"), "reason": args.data.get("reason")}})
    elif kind == "charge.refunded":
        outside = int(args.data.get("amount_refunded", 0)) - payment["refunded"] - repo.refunds_pending(
            tx.conn, args.payment_id)
        if outside > 0:   # refunded from Stripe's dashboard, not through us
            payment = repo.update(tx.conn, payment, needs_review=True,
                                  review_reason=f"{outside} refunded outside Fynlo")
            tx.emit("payment.review", repo.view(payment))
    elif kind == "payment_request.paid":
        payment, order = move(tx, order, payment, Status.SUCCEEDED)
    elif kind == "payment_request.declined":
        payment, order = move(tx, order, payment, Status.FAILED,
                              details={**payment["details"], "failure": "declined by the customer's bank"})
    return {"applied": True, "payment": repo.view(payment)}, order


def expire(tx: Tx, order: Order | None, args: PaymentRef) -> tuple[Any, Order | None]:
    """An open-banking request nobody paid in time: the terminal may offer a card instead."""
    if order is None:
        raise NotFound("no such order")
    payment = _payment(tx, args.payment_id)
    if payment["status"] == Status.PENDING and payment["expires_at"] and payment["expires_at"] <= now(tx):
        payment, order = move(tx, order, payment, Status.EXPIRED)
    return {"payment": repo.view(payment)}, order


def release_hold(tx: Tx, order: Order | None, args: PaymentRef) -> tuple[Any, Order | None]:
    """A tab's authorisation near its expiry: capture what the order owes (up to the hold), or
    cancel it when the order owes nothing."""
    if order is None:
        raise NotFound("no such order")
    payment = _payment(tx, args.payment_id)
    if payment["status"] != Status.AUTHORISED:
        return {"payment": repo.view(payment)}, order
    owed = order.totals().total - order.paid
    take = min(payment["authorised"], owed)
    intent_id, pid = payment["provider_ref"], args.payment_id
    if take > 0:
        payment = repo.update(tx.conn, payment, amount=take, tip=0)

    async def settle(providers: Any) -> Intent:
        if take > 0:
            return await providers.stripe.capture(intent_id, amount=take, key=intent_key(pid, f"capture-{take}"))
        return await providers.stripe.cancel(intent_id, key=intent_key(pid, "cancel"))

    return OutsideCall(run=settle, finish=_settled), order


def _settled(tx: Tx, order: Order, outcome: Intent | FynloError) -> tuple[Any, Order]:
    if isinstance(outcome, FynloError):
        return outcome, order
    payment = _payment(tx, str(tx.command.args["payment_id"]))
    payment, order = apply_intent(tx, order, payment, outcome)
    return {"payment": repo.view(payment)}, order


PROVIDER_EVENT = CommandSpec("payment.provider_event", EventArgs, handler=provider_event, actor_key=_order_key)
EXPIRE = CommandSpec("payment.expire", PaymentRef, handler=expire, actor_key=_order_key)
RELEASE_HOLD = CommandSpec("payment.release_hold", PaymentRef, handler=release_hold, actor_key=_order_key)
