"""Kitchen commands: send, fire a course, void a sent line, bump and recall tickets, bills."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any, Callable

from fynlo.commands.spec import write
from fynlo.commands.unit import Tx
from fynlo.errors import Conflict
from fynlo.orders import actions, jobs, kitchen, repo
from fynlo.orders.args import CourseArgs, OrderArgs, TicketArgs, VoidArgs
from fynlo.orders.commands import Result, commit, current, order_actor
from fynlo.orders.model import KitchenStatus, Order, Ticket
from fynlo.venues.commands import read_venue


def _ids(tx: Tx) -> Callable[[str], str]:
    """Ticket ids derived from the command id, so a retry names the same tickets."""
    return lambda key: str(uuid.uuid5(uuid.UUID(tx.command.id), key))


def _announce(tx: Tx, order: Order, tickets: list[Ticket]) -> None:
    """Kitchen screens follow `kitchen.ticket`; fired tickets also go to the printers."""
    for ticket in tickets:
        tx.emit("kitchen.ticket", ticket.view(order))
    jobs.queue_tickets(tx, order, [t for t in tickets if t.fired_at is not None and t.bumped_at is None])


def _commit_with_tickets(tx: Tx, old: Order, new: Order, tickets: list[Ticket], event: str) -> Result:
    result = commit(tx, old, new, event)
    _announce(tx, result[1], tickets)
    return result


@write("order.send", OrderArgs, actor=order_actor)
def send(tx: Tx, order: Order | None, args: OrderArgs) -> Result:
    """Send the unsent lines to the kitchen, one ticket per station and course (later courses held);
    refuses when there is nothing new to send."""
    order = current(order, args)
    new, tickets = kitchen.send(order, repo.now(tx.conn), _ids(tx))
    return _commit_with_tickets(tx, order, new, tickets, "order.sent")


@write("order.fire_course", CourseArgs, actor=order_actor)
def fire_course(tx: Tx, order: Order | None, args: CourseArgs) -> Result:
    """Fire the held tickets of every course up to this one; refuses when none are held."""
    order = current(order, args)
    new, fired = kitchen.fire_course(order, args.course, repo.now(tx.conn))
    return _commit_with_tickets(tx, order, new, fired, "order.course_fired")


@write("order.void_item", VoidArgs, actor=order_actor)
def void_item(tx: Tx, order: Order | None, args: VoidArgs) -> Result:
    """Void a sent line with a reason, sending a VOID ticket to its station if it has one; refuses an
    unsent line (remove it instead) or one already void."""
    order = current(order, args)
    new, line = actions.void_line(order, str(args.line_id), args.reason, tx.approved_by or tx.principal.staff_id)
    tickets: list[Ticket] = []
    if line.station != kitchen.NO_STATION:
        ticket = kitchen.void_ticket(order, line, repo.now(tx.conn), _ids(tx)(f"void/{line.id}"))
        new, tickets = replace(new, tickets=new.tickets + (ticket,)), [ticket]
    return _commit_with_tickets(tx, order, new, tickets, "order.updated")


def _move(tx: Tx, order: Order | None, args: TicketArgs, move: str) -> Result:
    order = current(order, args)
    new, ticket = kitchen.move_ticket(order, str(args.ticket_id), move, repo.now(tx.conn))
    result = commit(tx, order, new, "order.updated")
    tx.emit("kitchen.ticket", ticket.view(result[1]))
    return result


@write("kitchen.start", TicketArgs, actor=order_actor)
def start(tx: Tx, order: Order | None, args: TicketArgs) -> Result:
    """Mark a ticket as being prepared; refuses one that is not `sent`."""
    return _move(tx, order, args, "start")


@write("kitchen.bump", TicketArgs, actor=order_actor)
def bump(tx: Tx, order: Order | None, args: TicketArgs) -> Result:
    """Bump a ticket as ready; refuses one that is held or already ready."""
    return _move(tx, order, args, "bump")


@write("kitchen.recall", TicketArgs, actor=order_actor)
def recall(tx: Tx, order: Order | None, args: TicketArgs) -> Result:
    """Bring a bumped ticket back to preparing; refuses one that is not ready."""
    return _move(tx, order, args, "recall")


@write("order.mark_ready", OrderArgs, actor=order_actor)
def mark_ready(tx: Tx, order: Order | None, args: OrderArgs) -> Result:
    """Mark every sent or preparing order ticket ready; refuses when nothing is being prepared."""
    order = current(order, args)
    new, tickets = kitchen.mark_ready(order, repo.now(tx.conn))
    result = commit(tx, order, new, "order.ready")
    for ticket in tickets:
        tx.emit("kitchen.ticket", ticket.view(result[1]))
    return result


@write("order.mark_served", OrderArgs, actor=order_actor)
def mark_served(tx: Tx, order: Order | None, args: OrderArgs) -> Result:
    """Mark the order as served at the table; refuses one with nothing sent to the kitchen."""
    order = current(order, args)
    if order.kitchen_status is KitchenStatus.NONE:
        raise Conflict("nothing was sent to the kitchen", reason="nothing_to_serve")
    return commit(tx, order, replace(order, kitchen_status=KitchenStatus.SERVED), "order.served")


@write("order.print_bill", OrderArgs, actor=order_actor)
def print_bill(tx: Tx, order: Order | None, args: OrderArgs) -> tuple[dict[str, Any], Order | None]:
    """Queue the bill for printing and reply with the print job's id and the order;
    refuses an order with nothing to bill."""
    order = current(order, args)
    if not order.live_lines:
        raise Conflict("the order has nothing to bill", reason="empty_order")
    job_id = jobs.queue_bill(tx, order, read_venue(tx.conn, tx.venue_id).view())
    return {"job_id": job_id, "order": order.view()}, order
