"""Refunds: tied to the payments they return, back through the same method, with a manager's say.

A refund names a payment, or none: then it is spread across the order's payments in
proportion to what each can still give back (model.refund_shares), so a split bill is
refunded the way it was paid. Never more than was collected minus what was already refunded
or is being refunded. Cash comes out of an open till in this transaction (the drawer must
hold it); card and open-banking parts go back through Stripe and the bank outside the order's
mailbox, each with an idempotency key that is the refund part's id. Each part that succeeds
prints a refund receipt with the venue's next receipt number.

A part left `pending` (the provider did not answer in time, or the server died before it
recorded the answer) is finished by the terminal sending the same refund again, or else by the
payments sweep (`RESUME_REFUND`): the same call with the same key, which the provider answers
as it did the first time, so nothing is refunded twice.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from fynlo.commands.calls import OutsideCall
from fynlo.commands.spec import Args, CommandSpec, write
from fynlo.commands.unit import Tx
from fynlo.errors import Conflict, FynloError, NotFound, ProviderUnavailable, ValidationError
from fynlo.orders.commands import Result, order_actor
from fynlo.orders.model import Order
from fynlo.payments import repo
from fynlo.payments.args import RefundArgs
from fynlo.payments.commands import till_for
from fynlo.payments.model import Method, Status, refund_shares
from fynlo.payments.settle import kick_drawer, now, refresh_order, staff_name_later, venue_header
from fynlo.printing.jobs import queue
from fynlo.tills import ledger


def part_id(refund_id: str, payment_id: str, parts: int) -> str:
    """One part keeps the refund's own id; parts of a spread refund get ids derived from it."""
    return refund_id if parts == 1 else str(uuid.uuid5(uuid.UUID(refund_id), payment_id))


@write("payment.refund", RefundArgs, actor=order_actor)
def refund(tx: Tx, order: Order | None, args: RefundArgs) -> Result:
    if order is None:
        raise NotFound("no such order")
    parts = _parts(tx, order, args)
    waiting = [p for p in parts if p["status"] == "pending"]
    if not waiting:
        return _finished(tx, order, parts)
    return OutsideCall(run=partial(_send, tx.venue_id, waiting, _payments(tx, waiting)), finish=_returned), order


class PendingPart(Args):
    order_id: str
    refund_part_id: str


def resume_refund(tx: Tx, order: Order | None, args: PendingPart) -> Result:
    """Finish a refund part still `pending` (module docstring); a part already settled is left as it is."""
    part = repo.get_refund(tx.conn, args.refund_part_id)
    if order is None or part is None or str(part["order_id"]) != order.id:
        raise NotFound("no such refund on this order")
    if part["status"] != "pending":
        return {"parts": [repo.refund_view(part)]}, order
    return OutsideCall(run=partial(_send, tx.venue_id, [part], _payments(tx, [part])), finish=_resumed), order


RESUME_REFUND = CommandSpec("payment.resume_refund", PendingPart, handler=resume_refund, actor_key=order_actor)


def _payments(tx: Tx, parts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The payments `parts` give back, read in the command's transaction for the call after it."""
    payments = {str(p["payment_id"]): repo.get(tx.conn, tx.venue_id, str(p["payment_id"])) for p in parts}
    return {pid: payment for pid, payment in payments.items() if payment is not None}


async def _send(venue_id: str, parts: list[dict[str, Any]], payments: dict[str, dict[str, Any]],
                providers: Any) -> dict[str, Any]:
    """Each pending part back through its payment's provider, keyed by the part's id: the answer
    for each part, or the error it met."""
    answers: dict[str, Any] = {}
    for part in parts:
        payment = payments[str(part["payment_id"])]
        try:
            if payment["method"] == Method.CARD:
                answers[str(part["id"])] = await providers.stripe.refund(
                    payment["provider_ref"], amount=part["amount"], key=f"fynlo-refund-{part['id']}",
                    metadata={"venue_id": venue_id, "refund_id": str(part["id"])})
            else:
                answers[str(part["id"])] = await providers.bank.refund(
                    payment["provider_ref"], amount=part["amount"], key=f"fynlo-refund-{part['id']}",
                    reference=f"R-{str(part['id'])[:8]}")
        except FynloError as exc:
            answers[str(part["id"])] = exc
    return answers


def _parts(tx: Tx, order: Order, args: RefundArgs) -> list[dict[str, Any]]:
    """The refund's parts: those this refund id already made, else new ones (cash parts done)."""
    refund_id = str(args.refund_id)
    on_order = repo.for_order(tx.conn, order.id)
    ours = _made(tx, order, refund_id)
    if ours:
        if sum(r["amount"] for r in ours) != args.amount:
            raise Conflict("this refund id was used for another amount", reason="refund_exists")
        return ours
    candidates = [p for p in on_order if p["status"] == Status.SUCCEEDED
                  and (args.payment_id is None or str(p["id"]) == str(args.payment_id))]
    if args.payment_id is not None and not candidates:
        raise NotFound("no such succeeded payment on this order", payment_id=str(args.payment_id))
    room = [p["captured"] - p["refunded"] - repo.refunds_pending(tx.conn, str(p["id"])) for p in candidates]
    if args.amount > sum(room):
        raise ValidationError("more than was collected and not yet refunded", field="amount",
                              reason="exceeds_refundable", refundable=sum(room))
    shares = [(p, s) for p, s in zip(candidates, refund_shares(args.amount, room)) if s > 0]
    approver = tx.approved_by or tx.principal.staff_id
    cash_ids = {p["id"] for p, _ in shares if p["method"] == Method.CASH}
    out = []
    for payment, share in shares:
        till = till_for(tx, args.till_id) if payment["id"] in cash_ids else None
        row = repo.insert_refund(tx.conn, {
            "id": part_id(refund_id, str(payment["id"]), len(shares)), "venue_id": tx.venue_id,
            "payment_id": payment["id"], "order_id": order.id, "amount": share, "status": "pending",
            "reason": args.reason, "till_id": till["id"] if till else payment["till_id"], "approved_by": approver,
            "staff_id": tx.principal.staff_id})
        if till is not None:
            ledger.take_cash(tx.conn, tx.venue_id, str(till["id"]), "refund", share, refund_id=str(row["id"]),
                             reason=args.reason, staff_id=tx.principal.staff_id)
        out.append(row)
    tx.emit("payment.refund_started", {"refund_id": refund_id, "order_id": order.id,
                                       "parts": [repo.refund_view(r) for r in out]})
    # cash leaves the drawer now: its parts are done, after the refund's start in the event log
    return [_succeed(tx, order, row, None) if row["payment_id"] in cash_ids else row for row in out]


def _made(tx: Tx, order: Order, refund_id: str) -> list[dict[str, Any]]:
    """The parts this refund id already made on the order."""
    ids = [refund_id] + [part_id(refund_id, str(p["id"]), 2) for p in repo.for_order(tx.conn, order.id)]
    return tx.conn.execute("SELECT * FROM refunds WHERE venue_id = %s AND id = ANY(%s::uuid[]) ORDER BY id",
                           (tx.venue_id, ids)).fetchall()


def _succeed(tx: Tx, order: Order, part: dict[str, Any], provider_ref: str | None) -> dict[str, Any]:
    payment = tx.conn.execute("UPDATE payments SET refunded = refunded + %s WHERE id = %s RETURNING *",
                              (part["amount"], part["payment_id"])).fetchone()
    number = repo.next_receipt_number(tx.conn, tx.venue_id)
    part = repo.update_refund(tx.conn, str(part["id"]), status="succeeded", provider_ref=provider_ref,
                              settled_at=now(tx), receipt_number=number)
    tx.emit("payment.refunded", {**repo.refund_view(part), "payment": repo.view(payment)})
    staff, approver = staff_name_later(tx, part["staff_id"]), staff_name_later(tx, part["approved_by"])
    document = {
        "venue": venue_header(tx), "order_number": order.number, "receipt_number": number,
        "issued_at": now(tx).isoformat(), "original_receipt_number": payment["receipt_number"],
        "staff": staff(), "approved_by": approver(),
        "refund": {"refund_id": str(part["id"]), "payment_id": str(payment["id"]), "method": payment["method"],
                   "amount": part["amount"], "reason": part["reason"]},
    }
    queue(tx, key=f"refund/{part['id']}", kind="refund_receipt", station="receipt", order_id=order.id,
          document=document)
    if payment["method"] == Method.CASH:
        till = tx.conn.execute("SELECT drawer FROM tills WHERE id = %s", (part["till_id"],)).fetchone()
        kick_drawer(tx, till["drawer"], order.id, f"refund/{part['id']}")
    return part


def _returned(tx: Tx, order: Order, outcome: dict[str, Any] | FynloError) -> tuple[Any, Order]:
    if isinstance(outcome, FynloError):
        return outcome, order
    _record(tx, order, outcome)
    failures = [a for a in outcome.values() if isinstance(a, FynloError)]
    if failures and len(failures) == len(outcome):
        _, order = refresh_order(tx, order)
        return failures[0], order
    return _finished(tx, order, _made(tx, order, str(tx.command.args["refund_id"])))


def _resumed(tx: Tx, order: Order, outcome: dict[str, Any] | FynloError) -> tuple[Any, Order]:
    if isinstance(outcome, FynloError):
        return outcome, order
    _record(tx, order, outcome)
    [answer] = outcome.values()
    if isinstance(answer, ProviderUnavailable):
        return answer, order      # still pending: the next sweep tries again
    view, order = refresh_order(tx, order)
    part = repo.get_refund(tx.conn, tx.command.args["refund_part_id"])
    assert part is not None
    return {"parts": [repo.refund_view(part)], "order": view}, order


def _record(tx: Tx, order: Order, outcome: dict[str, Any]) -> None:
    """What the provider answered for each part: succeeded, failed, or (unavailable) still pending."""
    for part_id_, answer in outcome.items():
        part = repo.get_refund(tx.conn, part_id_)
        assert part is not None
        if part["status"] == "pending":
            if isinstance(answer, FynloError):
                if not isinstance(answer, ProviderUnavailable):   # a timeout: the same part is tried again
                    part = repo.update_refund(tx.conn, part_id_, status="failed", settled_at=now(tx))
                    tx.emit("payment.refund_failed", {**repo.refund_view(part), "message": answer.message})
            else:
                _succeed(tx, order, part, answer.id)


def _finished(tx: Tx, order: Order, parts: list[dict[str, Any]]) -> Result:
    view, order = refresh_order(tx, order)
    return {"refund_id": str(tx.command.args["refund_id"]), "amount": sum(p["amount"] for p in parts),
            "parts": [repo.refund_view(p) for p in parts], "order": view}, order

