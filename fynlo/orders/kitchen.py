"""Kitchen rules: tickets per station and course, firing, bumping, and the order's summary."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Callable, Iterable

from fynlo.errors import Conflict, NotFound
from fynlo.orders.model import KitchenStatus, Line, LineState, Order, Ticket, TicketStatus

NO_STATION = "none"  # categories that go to no kitchen or bar (retail, gift cards…)


def ticket_line(line: Line) -> dict[str, object]:
    """What a ticket shows of a line: quantity, name, modifiers, seat, note and allergens."""
    return {
        "line_id": line.id, "quantity": line.quantity, "name": line.name,
        "modifiers": [m.name for m in line.modifiers], "seat": line.seat, "note": line.note,
        "allergens": list(line.allergens), "course": line.course,
        "share": None if line.share is None else f"{line.share[0] + 1}/{line.share[1]}",
    }


def summarise(tickets: Iterable[Ticket], current: KitchenStatus) -> KitchenStatus:
    """The order's kitchen status from its order tickets (VOID tickets say nothing of progress)."""
    fired = [t for t in tickets if t.kind == "order" and t.status is not TicketStatus.HELD]
    if not fired:
        return KitchenStatus.NONE
    statuses = {t.status for t in fired}
    if statuses == {TicketStatus.READY}:
        return KitchenStatus.SERVED if current is KitchenStatus.SERVED else KitchenStatus.READY
    if statuses == {TicketStatus.SENT}:
        return KitchenStatus.SENT
    return KitchenStatus.PREPARING


def send(order: Order, now: datetime, new_id: Callable[[str], str]) -> tuple[Order, list[Ticket]]:
    """Turn the unsent lines into one ticket per station and course; later courses are held.

    The first send fires the lowest course present; every course up to the order's current
    course fires on send, and higher ones wait for `fire_course`. `new_id(key)` names tickets
    (deterministically, so a retried command makes the same ids).
    """
    unsent = [ln for ln in order.lines if ln.state is LineState.UNSENT]
    if not unsent:
        raise Conflict("there is nothing new to send", reason="nothing_to_send")
    current = order.current_course or min(ln.course for ln in unsent)
    groups: dict[tuple[str, int], list[Line]] = {}
    for line in unsent:
        if line.station != NO_STATION:
            groups.setdefault((line.station, line.course), []).append(line)
    tickets = []
    for (station, course), lines in sorted(groups.items()):
        fire = course <= current
        tickets.append(Ticket(
            id=new_id(f"ticket/{station}/{course}"), station=station, course=course, kind="order",
            status=TicketStatus.SENT if fire else TicketStatus.HELD,
            lines=tuple(ticket_line(ln) for ln in lines), created_at=now, fired_at=now if fire else None,
        ))
    sent = {ln.id for ln in unsent}
    lines = tuple(replace(ln, state=LineState.SENT, sent_at=now) if ln.id in sent else ln for ln in order.lines)
    all_tickets = order.tickets + tuple(tickets)
    updated = replace(order, lines=lines, tickets=all_tickets, current_course=current,
                      kitchen_status=summarise(all_tickets, order.kitchen_status))
    return updated, tickets


def fire_course(order: Order, course: int, now: datetime) -> tuple[Order, list[Ticket]]:
    held = [t for t in order.tickets if t.status is TicketStatus.HELD and t.course <= course]
    if not held:
        raise Conflict(f"no held tickets for course {course}", reason="nothing_to_fire")
    fired_ids = {t.id for t in held}
    tickets = tuple(replace(t, status=TicketStatus.SENT, fired_at=now) if t.id in fired_ids else t
                    for t in order.tickets)
    updated = replace(order, tickets=tickets, current_course=max(order.current_course, course),
                      kitchen_status=summarise(tickets, order.kitchen_status))
    return updated, [t for t in tickets if t.id in fired_ids]


def void_ticket(order: Order, line: Line, now: datetime, ticket_id: str) -> Ticket:
    return Ticket(id=ticket_id, station=line.station, course=line.course, kind="void", status=TicketStatus.SENT,
                  lines=(ticket_line(line),), created_at=now, fired_at=now)


# ticket status moves: command -> (allowed from, to, the timestamp it sets)
MOVES: dict[str, tuple[frozenset[TicketStatus], TicketStatus, str]] = {
    "start": (frozenset({TicketStatus.SENT}), TicketStatus.PREPARING, "started_at"),
    "bump": (frozenset({TicketStatus.SENT, TicketStatus.PREPARING}), TicketStatus.READY, "bumped_at"),
    "recall": (frozenset({TicketStatus.READY}), TicketStatus.PREPARING, "bumped_at"),
}


def move_ticket(order: Order, ticket_id: str, move: str, now: datetime) -> tuple[Order, Ticket]:
    ticket = order.ticket(ticket_id)
    if ticket is None:
        raise NotFound("no such ticket on this order")
    allowed, target, stamp = MOVES[move]
    if ticket.status not in allowed:
        raise Conflict(f"a {ticket.status} ticket cannot be {move}ed", reason="illegal_transition",
                       status=str(ticket.status))
    moved = replace(ticket, status=target, **{stamp: None if move == "recall" else now})
    tickets = tuple(moved if t.id == ticket_id else t for t in order.tickets)
    return replace(order, tickets=tickets, kitchen_status=summarise(tickets, order.kitchen_status)), moved


def mark_ready(order: Order, now: datetime) -> tuple[Order, list[Ticket]]:
    fired = [t for t in order.tickets if t.kind == "order" and t.status in (TicketStatus.SENT, TicketStatus.PREPARING)]
    if not fired:
        raise Conflict("nothing is being prepared for this order", reason="nothing_to_mark")
    ids = {t.id for t in fired}
    tickets = tuple(replace(t, status=TicketStatus.READY, bumped_at=now) if t.id in ids else t for t in order.tickets)
    return replace(order, tickets=tickets, kitchen_status=summarise(tickets, order.kitchen_status)), \
        [t for t in tickets if t.id in ids]
