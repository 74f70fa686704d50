"""What a command does to an order (pure): each function checks the order's state and returns
the new order, or raises a domain error and changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Iterable, Sequence

from fynlo.errors import Conflict, NotFound, ValidationError
from fynlo.money import allocate, percent_of, split_evenly
from fynlo.orders.model import Line, LineState, Order, OrderStatus, PaymentStatus
from fynlo.orders.totals import Discount, Gratuity, check_discount, line_discount


def require_open(order: Order | None) -> Order:
    """The order, if it exists and is still open; else NotFound or a Conflict."""
    if order is None:
        raise NotFound("no such order")
    if not order.editable:
        raise Conflict(f"the order is {order.status}", reason="order_closed", status=str(order.status))
    return order


def require_line(order: Order, line_id: str) -> Line:
    """The line with this id on the order; NotFound when there is none."""
    line = order.line(line_id)
    if line is None:
        raise NotFound("no such line on this order", line_id=line_id)
    return line


def replace_line(order: Order, line: Line) -> Order:
    """The order with `line` in place of its line of the same id."""
    return replace(order, lines=tuple(line if ln.id == line.id else ln for ln in order.lines))


def add_line(order: Order, line: Line) -> Order:
    """The order with `line` added; refuses a line id already on it."""
    if order.line(line.id) is not None:
        raise Conflict("a line with this id is already on the order", reason="line_exists")
    return replace(order, lines=order.lines + (line,))


def require_unsent(order: Order, line_id: str, doing: str) -> Line:
    """The line, if it is still unsent; `doing` names the refused change in the message."""
    line = require_line(order, line_id)
    if line.state is not LineState.UNSENT:
        raise Conflict(f"a {line.state} line cannot be {doing}; void it instead", reason="line_sent")
    return line


def remove_line(order: Order, line_id: str) -> tuple[Order, Line]:
    """The order without the unsent line, and the line taken off."""
    line = require_unsent(order, line_id, "removed")
    return replace(order, lines=tuple(ln for ln in order.lines if ln.id != line_id)), line


def void_line(order: Order, line_id: str, reason: str, by: str) -> tuple[Order, Line]:
    """The order with a sent line voided (reason, by whom), and the voided line;
    refuses an unsent line or one already void."""
    line = require_line(order, line_id)
    if line.state is LineState.UNSENT:
        raise Conflict("an unsent line is removed, not voided", reason="line_unsent")
    if line.state is LineState.VOID:
        raise Conflict("the line is already void", reason="line_void")
    voided = replace(line, state=LineState.VOID, void_reason=reason, voided_by=by)
    return replace_line(order, voided), voided


def apply_discount(order: Order, line_id: str | None, discount: Discount, reason: str) -> Order:
    """A line discount, or (no line) an order discount on what the lines come to."""
    if line_id is None:
        base = order.totals()
        check_discount(base.subtotal - sum(t.line_discount for t in base.lines), discount)
        return replace(order, discount=discount, discount_reason=reason)
    line = require_line(order, line_id)
    if line.state is LineState.VOID:
        raise Conflict("the line is void", reason="line_void")
    check_discount(line.gross, discount)
    return replace_line(order, replace(line, discount=discount, discount_reason=reason))


def complete(order: Order, now: datetime) -> Order:
    """The order completed; refuses one not yet paid in full."""
    due = order.totals().total - order.paid
    if due > 0:
        raise Conflict("the order is not paid in full", reason="not_paid", due=due)
    return replace(order, status=OrderStatus.COMPLETED, closed_at=now,
                   payment_status=PaymentStatus.PAID if order.paid else order.payment_status)


def cancel(order: Order, reason: str, now: datetime) -> Order:
    """The order cancelled with a reason; refuses one with payments (refund them first)."""
    if order.paid:
        raise Conflict("refund the payments before cancelling", reason="has_payments", paid=order.paid)
    return replace(order, status=OrderStatus.CANCELLED, cancel_reason=reason, closed_at=now)


# -- splitting and merging --------------------------------------------------------------------


def fold_order_discount(order: Order) -> Order:
    """Turn the order discount into line discounts (amounts), so lines can move between orders
    and every order's totals still add up to what the customer was going to pay."""
    totals = order.totals()
    by_id = {t.line_id: t for t in totals.lines}
    lines = []
    for line in order.lines:
        t = by_id.get(line.id)
        if t is None or (t.line_discount == 0 and t.order_discount == 0):
            lines.append(line)
            continue
        amount = t.line_discount + t.order_discount
        reason = "; ".join(r for r in (line.discount_reason, order.discount_reason) if r)
        lines.append(replace(line, discount=Discount("amount", amount), discount_reason=reason))
    return replace(order, lines=tuple(lines), discount=None, discount_reason="")


def share_id(line_id: str, index: int) -> str:
    """The id of one share of a divided line: derived, so a retried split makes the same ids."""
    return str(uuid.uuid5(uuid.UUID(line_id), f"share/{index}"))


def divide(line: Line, parts: int) -> list[Line]:
    """A line shared by `parts` orders, as one line each: the price and any discount divided evenly."""
    if line.share is not None:
        raise Conflict("a line that was already divided cannot be divided again", reason="already_divided")
    amounts = split_evenly(line_discount(line.gross, line.discount), parts) if line.discount else None
    out = []
    for index in range(parts):
        discount = None if amounts is None else Discount("amount", amounts[index])
        out.append(replace(line, id=line.id if index == 0 else share_id(line.id, index), share=(index, parts),
                           discount=discount))
    return out


def split(order: Order, parts: Sequence[tuple[str, set[str]]]) -> tuple[Order, dict[str, tuple[Line, ...]]]:
    """Divide the order's lines among `parts` ([(order id, line ids)]); a line named by several
    parts is divided evenly among them. Lines no part names stay on this order.

    Returns this order as it remains, and the lines each other order gets.
    """
    order = fold_order_discount(order)
    live = {ln.id for ln in order.live_lines}
    named = [line_id for _, ids in parts for line_id in ids]
    unknown = sorted(set(named) - live)
    if unknown:
        raise ValidationError("those lines are not on this order", field="parts", line_ids=unknown)
    holders: dict[str, list[str]] = {}
    for order_id, ids in parts:
        for line_id in ids:
            holders.setdefault(line_id, []).append(order_id)
    kept: list[Line] = []
    moved: dict[str, list[Line]] = {order_id: [] for order_id, _ in parts if order_id != order.id}
    for line in order.lines:
        owners = holders.get(line.id)
        if not owners:
            kept.append(line)
            continue
        pieces = divide(line, len(owners)) if len(owners) > 1 else [line]
        for owner, piece in zip(owners, pieces):
            (kept if owner == order.id else moved[owner]).append(piece)
    return replace(order, lines=tuple(kept)), {k: tuple(v) for k, v in moved.items()}


def share_charges(original: Order, bills: Sequence[Order]) -> list[Order]:
    """The bills a split made of `original` (what it kept first), each with its share of the
    original's service charge and gratuity, in proportion to what its lines come to, so that
    the bills add up to the original penny for penny. A percent stays a percent (lines added
    later are charged too), with the pennies its rounding moved kept as `rounding`; a gratuity
    set as an amount is divided as amounts."""
    before = original.totals()
    bases = [replace(bill, service_charge=None, gratuity=None).totals().after_discounts for bill in bills]
    charges = allocate(before.service_charge, bases)
    tips = allocate(before.gratuity, bases)
    out = []
    for bill, base, charge, tip in zip(bills, bases, charges, tips):
        service, gratuity = original.service_charge, original.gratuity
        if service is not None:
            service = replace(service, rounding=charge - percent_of(base, service.rate))
        if gratuity is not None:
            gratuity = (Gratuity(amount=tip) if gratuity.percent is None else
                        replace(gratuity, rounding=tip - percent_of(base, gratuity.percent)))
        out.append(replace(bill, service_charge=service, gratuity=gratuity))
    return out


def lines_for_seats(order: Order, parts: Sequence[tuple[str, set[int]]]) -> list[tuple[str, set[str]]]:
    """Split by seats: each part takes its seats' lines; lines with no seat are shared by all."""
    out = []
    for order_id, seats in parts:
        ids = {ln.id for ln in order.live_lines if ln.seat in seats or ln.seat is None}
        out.append((order_id, ids))
    return out


def merge(target: Order, source: Order) -> tuple[Order, Order]:
    """Move every line of `source` onto `target`; `source` ends cancelled, pointing at `target`."""
    if source.id == target.id:
        raise ValidationError("an order cannot be merged into itself", field="order_id")
    require_open(source)
    if source.paid:
        raise Conflict("the other order has payments; it cannot be merged", reason="has_payments")
    target, source = fold_order_discount(target), fold_order_discount(source)
    offset = max((ln.position for ln in target.lines), default=0) + 1
    moved = tuple(replace(ln, position=offset + i) for i, ln in enumerate(source.lines))
    merged = replace(target, lines=target.lines + moved, tickets=target.tickets + source.tickets,
                     covers=target.covers + source.covers,
                     related={**target.related, "merged_from": [*target.related.get("merged_from", []), source.id]})
    emptied = replace(source, lines=(), tickets=(), status=OrderStatus.CANCELLED,
                      cancel_reason=f"merged into order {target.number}",
                      related={**source.related, "merged_into": target.id})
    return merged, emptied


def positions(lines: Iterable[Line]) -> int:
    """The next free line position."""
    return max((ln.position for ln in lines), default=-1) + 1
