"""Split one order into several, and merge two into one.

Both touch more than one order in one transaction. The other orders are read and written here
under their row locks; their own actors notice on their next write (the version no longer
matches), reload and carry on. Nothing waits on another actor.
"""

from __future__ import annotations

from dataclasses import replace

from fynlo.commands.spec import write
from fynlo.commands.unit import Tx
from fynlo.errors import Conflict, NotFound, ValidationError
from fynlo.orders import actions, repo
from fynlo.orders.args import MergeArgs, SplitArgs
from fynlo.orders.commands import Result, commit, current, order_actor, refuse_with_payments_in_flight
from fynlo.orders.model import Order


@write("order.split", SplitArgs, actor=order_actor)
def split(tx: Tx, order: Order | None, args: SplitArgs) -> Result:
    """Split the order into new orders by lines or by seats (a line in several parts is divided evenly);
    refuses an order with payments, a part with no lines, or a part's id already in use."""
    order = current(order, args)
    if order.paid:
        # what was paid belongs to the whole bill: refund it, or split before anyone pays
        raise Conflict("the order already has payments; it cannot be split", reason="has_payments", paid=order.paid)
    refuse_with_payments_in_flight(tx, order)
    ids = [str(p.order_id) for p in args.parts]
    if len(set(ids)) != len(ids):
        raise ValidationError("each part needs its own order_id", field="parts")
    by_lines = [(str(p.order_id), {str(x) for x in p.line_ids}) for p in args.parts if p.line_ids is not None]
    by_seats = [(str(p.order_id), set(p.seats)) for p in args.parts if p.seats is not None]
    parts = by_lines + actions.lines_for_seats(order, by_seats)
    if any(not line_ids for _, line_ids in parts):
        raise ValidationError("a part has no lines", field="parts")
    remaining, moved = actions.split(order, parts)
    day, now = order.business_date, repo.now(tx.conn)
    created = []
    for order_id, lines in moved.items():
        if repo.load(tx.conn, tx.venue_id, order_id) is not None:
            raise Conflict("a part's order_id is already an order", reason="order_exists", order_id=order_id)
        part = Order(id=order_id, venue_id=tx.venue_id, number=repo.next_number(tx.conn, tx.venue_id, day),
                     business_date=day, kind=order.kind, table_id=order.table_id, covers=0, version=0,
                     opened_by=tx.principal.staff_id, opened_at=now, current_course=order.current_course,
                     kitchen_status=order.kitchen_status,
                     lines=tuple(replace(ln, position=i) for i, ln in enumerate(lines)),
                     related={"split_from": order.id})
        created.append(part)
    remaining, *created = actions.share_charges(order, [remaining, *created])
    # the source first: the moved lines leave it before the new orders claim them
    result = commit(tx, order, replace(remaining, related={**order.related, "split_into": list(moved)}),
                    "order.split")
    views = [commit(tx, None, part, "order.opened")[0] for part in created]
    return {"order": result[0], "created": views}, result[1]


@write("order.merge", MergeArgs, actor=order_actor)
def merge(tx: Tx, order: Order | None, args: MergeArgs) -> Result:
    """Move every line of another open order onto this one and cancel the other; refuses one with payments."""
    target = current(order, args)
    source = repo.load(tx.conn, tx.venue_id, str(args.from_order_id), lock=True)
    if source is None:
        raise NotFound("no such order to merge", order_id=str(args.from_order_id))
    refuse_with_payments_in_flight(tx, source)  # it closes: a card on its reader would pay a closed order
    merged, emptied = actions.merge(target, source)
    commit(tx, source, emptied, "order.merged")
    return commit(tx, target, merged, "order.updated")
