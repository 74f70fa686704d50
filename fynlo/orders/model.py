"""An order as data: its lines, tickets and three statuses (pure; no I/O).

An order carries three statuses that move independently, because a café takes the money first
and a restaurant takes it last (CONTRACT.md):
- `status`: open → completed, or cancelled;
- `payment_status`: unpaid → part_paid → paid, then part_refunded / refunded;
- `kitchen_status`: none → sent → preparing → ready → served, summarised from its tickets.
Values are frozen: a change builds a new Order, so an actor keeps the old one until the
transaction that wrote the new one has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from fynlo.orders.totals import Discount, Gratuity, PricedLine, ServiceCharge, Totals, compute, split_line_gross


class OrderStatus(StrEnum):
    OPEN = "open"              # editable
    COMPLETED = "completed"    # paid in full and closed; read-only
    CANCELLED = "cancelled"    # by a manager, with a reason; read-only


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PART_PAID = "part_paid"
    PAID = "paid"
    PART_REFUNDED = "part_refunded"
    REFUNDED = "refunded"


class KitchenStatus(StrEnum):
    NONE = "none"              # nothing fired to the kitchen yet
    SENT = "sent"              # tickets fired, none started
    PREPARING = "preparing"    # some started or some done
    READY = "ready"            # every fired ticket done
    SERVED = "served"          # taken to the table


class LineState(StrEnum):
    UNSENT = "unsent"          # may still be edited or removed
    SENT = "sent"              # on a kitchen ticket: append-only, removable only by a void
    VOID = "void"              # voided after sending (a manager, a reason, a VOID ticket)


class TicketStatus(StrEnum):
    HELD = "held"              # a later course, waiting for order.fire_course
    SENT = "sent"
    PREPARING = "preparing"
    READY = "ready"            # bumped


class OrderKind(StrEnum):
    DINE_IN = "dine_in"
    TAKEAWAY = "takeaway"
    DELIVERY = "delivery"


@dataclass(frozen=True, slots=True)
class Modifier:
    option_id: str
    group_id: str
    group_name: str
    name: str
    price_delta: int

    def view(self) -> dict[str, Any]:
        """The modifier as terminals see it."""
        return {"option_id": self.option_id, "group_id": self.group_id, "group": self.group_name,
                "name": self.name, "price_delta": self.price_delta}


@dataclass(frozen=True, slots=True)
class Line:
    id: str
    item_id: str
    name: str
    unit_price: int
    quantity: int
    modifiers: tuple[Modifier, ...]
    station: str
    vat_eat_in: str
    vat_takeaway: str
    position: int
    allergens: tuple[str, ...] = ()
    note: str = ""
    seat: int | None = None
    course: int = 1
    state: LineState = LineState.UNSENT
    discount: Discount | None = None
    discount_reason: str = ""
    share: tuple[int, int] | None = None      # (index, parts) of a line divided by a split
    sent_at: datetime | None = None
    void_reason: str = ""
    voided_by: str | None = None

    @property
    def full_gross(self) -> int:
        """What the whole line costs (VAT included) before discounts."""
        return (self.unit_price + sum(m.price_delta for m in self.modifiers)) * self.quantity

    @property
    def gross(self) -> int:
        """This order's part of it: the whole line, or its share of a divided one."""
        if self.share is None:
            return self.full_gross
        index, parts = self.share
        return split_line_gross(self.full_gross, parts)[index]

    def vat_rate(self, kind: OrderKind) -> str:
        """The line's VAT rate for this kind of order: the eat-in rate for dine-in, else takeaway."""
        return self.vat_eat_in if kind is OrderKind.DINE_IN else self.vat_takeaway

    def view(self) -> dict[str, Any]:
        """The line as terminals see it."""
        return {
            "line_id": self.id, "item_id": self.item_id, "name": self.name, "unit_price": self.unit_price,
            "quantity": self.quantity, "modifiers": [m.view() for m in self.modifiers], "note": self.note,
            "seat": self.seat, "course": self.course, "station": self.station, "allergens": list(self.allergens),
            "state": str(self.state), "gross": self.gross,
            "discount": None if self.discount is None else discount_view(self.discount, self.discount_reason),
            "share": None if self.share is None else {"index": self.share[0], "parts": self.share[1]},
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "void_reason": self.void_reason or None,
        }


def discount_view(discount: Discount, reason: str) -> dict[str, Any]:
    """A discount and its reason as terminals see them."""
    return {"kind": discount.kind, "value": discount.value, "reason": reason}


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    station: str
    course: int
    kind: str                                  # "order" or "void"
    status: TicketStatus
    lines: tuple[dict[str, Any], ...]          # what the ticket says, frozen when it is made
    created_at: datetime
    fired_at: datetime | None = None
    started_at: datetime | None = None
    bumped_at: datetime | None = None

    def view(self, order: "Order") -> dict[str, Any]:
        """The ticket as kitchen screens see it, with its order's number and table."""
        return {
            "ticket_id": self.id, "order_id": order.id, "order_number": order.number, "table_id": order.table_id,
            "station": self.station, "course": self.course, "kind": self.kind, "status": str(self.status),
            "lines": list(self.lines),
            "sent_at": self.created_at.isoformat(),
            "fired_at": self.fired_at.isoformat() if self.fired_at else None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "bumped_at": self.bumped_at.isoformat() if self.bumped_at else None,
        }


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    venue_id: str
    number: int
    business_date: date
    kind: OrderKind
    table_id: str | None
    covers: int
    version: int
    opened_by: str | None
    opened_at: datetime
    status: OrderStatus = OrderStatus.OPEN
    payment_status: PaymentStatus = PaymentStatus.UNPAID
    kitchen_status: KitchenStatus = KitchenStatus.NONE
    current_course: int = 0
    lines: tuple[Line, ...] = ()
    tickets: tuple[Ticket, ...] = ()
    discount: Discount | None = None
    discount_reason: str = ""
    service_charge: ServiceCharge | None = None
    gratuity: Gratuity | None = None
    paid: int = 0
    closed_at: datetime | None = None
    cancel_reason: str = ""
    related: dict[str, Any] = field(default_factory=dict)
    _totals: Totals | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def editable(self) -> bool:
        """Whether the order is still open to changes."""
        return self.status is OrderStatus.OPEN

    def line(self, line_id: str) -> Line | None:
        """The line with this id, or None."""
        return next((ln for ln in self.lines if ln.id == line_id), None)

    def ticket(self, ticket_id: str) -> Ticket | None:
        """The ticket with this id, or None."""
        return next((t for t in self.tickets if t.id == ticket_id), None)

    @property
    def live_lines(self) -> tuple[Line, ...]:
        """The lines the customer pays for."""
        return tuple(ln for ln in self.lines if ln.state is not LineState.VOID)

    def totals(self) -> Totals:
        """Computed once per order: an order never changes (`with_changes` makes another), and
        a write both stores its total and shows its view."""
        totals = self._totals
        if totals is None:
            priced = [PricedLine(ln.id, ln.gross, ln.vat_rate(self.kind), ln.discount) for ln in self.live_lines]
            totals = compute(priced, order_discount=self.discount, service_charge=self.service_charge,
                             gratuity=self.gratuity)
            object.__setattr__(self, "_totals", totals)
        return totals

    def with_changes(self, **changes: Any) -> "Order":
        """A copy of the order with these fields changed (orders are frozen)."""
        return replace(self, **changes)

    def view(self) -> dict[str, Any]:
        """The order as terminals see it: its lines, tickets, totals and what is still due."""
        totals = self.totals()
        return {
            "order_id": self.id, "number": self.number, "business_date": self.business_date.isoformat(),
            "kind": str(self.kind), "table_id": self.table_id, "covers": self.covers, "version": self.version,
            "status": str(self.status), "payment_status": str(self.payment_status),
            "kitchen_status": str(self.kitchen_status), "current_course": self.current_course,
            "lines": [ln.view() for ln in self.lines],
            "tickets": [t.view(self) for t in self.tickets],
            "discount": None if self.discount is None else discount_view(self.discount, self.discount_reason),
            "service_charge": None if self.service_charge is None else
            {"rate": self.service_charge.rate, "mandatory": self.service_charge.mandatory},
            "gratuity": None if self.gratuity is None else
            {"percent": self.gratuity.percent, "amount": self.gratuity.amount},
            "totals": totals.to_dict(), "paid": self.paid, "due": totals.total - self.paid,
            "opened_by": self.opened_by, "opened_at": self.opened_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "cancel_reason": self.cancel_reason or None, "related": self.related,
        }
