"""The order commands: open, lines, discounts, gratuity, transfer, cancel, complete.

Every order is an actor (`("order", order_id)`): its commands run one at a time, so two
terminals on the same table can never lose each other's lines. Each handler takes the order as
the actor holds it and returns the new order; `commit` writes it with its event.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Hashable

from fynlo.auth.principal import Principal, Role
from fynlo.commands.spec import write
from fynlo.commands.unit import Existing, Tx
from fynlo.errors import Conflict, NotFound
from fynlo.floor.repo import table_for_order_later
from fynlo.menu.model import choose_modifiers
from fynlo.menu.repo import item_for_order
from fynlo.menu.stock import return_stock, take_stock
from fynlo.money import parse_rate, percent_of
from fynlo.orders import actions, repo
from fynlo.orders.args import (
    AddItemArgs, CancelArgs, DiscountArgs, GratuityArgs, LineArgs, OpenArgs, OrderArgs, TransferArgs,
    UpdateItemArgs,
)
from fynlo.orders.model import Line, LineState, Modifier, Order, OrderKind
from fynlo.orders.totals import Discount, Gratuity, ServiceCharge
from fynlo.runtime.entity import loader
from fynlo.venues.commands import read_venue

Result = tuple[dict[str, Any], Order | None]


def order_actor(args: Any, principal: Principal) -> Hashable:
    """The actor an order command runs in: one per order, so its commands run one at a time."""
    return ("order", str(args.order_id))


@loader("order")
def load_order(conn: Any, venue_id: str, order_id: str) -> Order | None:
    """Rebuild the order actor's state from the database; None when there is no such order."""
    return repo.load(conn, venue_id, order_id)


def current(order: Order | None, args: OrderArgs) -> Order:
    """The open order this command may change, at the version the client expects."""
    order = actions.require_open(order)
    if args.expected_version is not None and args.expected_version != order.version:
        raise Conflict("the order changed since you read it", reason="stale_version",
                       expected=args.expected_version, actual=order.version)
    return order


def commit(tx: Tx, old: Order | None, new: Order, event: str) -> Result:
    """Write the order and tell every terminal; the reply is the order as it now stands."""
    saved = repo.save(tx.conn, old, new)
    view = saved.view()
    tx.emit(event, view)
    return view, saved


def _table(tx: Tx, table_id: str, order_id: str) -> str:
    """The table, locked; one open order per table unless the venue allows several checks.
    The open orders are read after the lock is taken, in the same round trip."""
    locked = table_for_order_later(tx.conn, tx.venue_id, table_id)
    on_table = repo.open_on_table_later(tx.conn, tx.venue_id, table_id)
    table = locked()
    if table is None:
        raise NotFound("no such table", table=table_id)
    venue = read_venue(tx.conn, tx.venue_id)
    others = [o for o in on_table() if o != order_id]
    if others and not venue.settings.allow_multiple_checks:
        raise Conflict("the table already has an open order", reason="table_occupied", order_id=others[0])
    return str(table["id"])


@write("order.open", OpenArgs, actor=order_actor, creates=True)
def order_open(tx: Tx, order: Order | None, args: OpenArgs) -> Result:
    """Open an order, numbered for its business day; refuses an id already in use, an unknown table,
    or a table with an open order unless the venue allows several checks."""
    exists = Conflict("an order with this id already exists", reason="order_exists")
    if order is not None:
        raise exists
    # A new actor has not read the order (`creates`): an order of that id fails the insert.
    tx.conn.translate("23505", lambda exc: Existing(exists) if exc.diag.constraint_name == "orders_pkey" else None)
    venue = read_venue(tx.conn, tx.venue_id)
    settings = venue.settings
    now = repo.now(tx.conn)
    day = repo.business_date(now, settings.timezone, settings.business_day_start)
    order_id = str(args.order_id)
    number = repo.number_later(tx.conn, tx.venue_id, day)  # answered with the table's checks
    table_id = _table(tx, str(args.table), order_id) if args.table else None
    rule = settings.service_charge
    service = (ServiceCharge(rule.rate, rule.mandatory)
               if rule.auto_min_covers is not None and args.covers >= rule.auto_min_covers else None)
    new = Order(id=order_id, venue_id=tx.venue_id, number=number(),
                business_date=day, kind=OrderKind(args.kind), table_id=table_id, covers=args.covers, version=0,
                opened_by=tx.principal.staff_id, opened_at=now, service_charge=service)
    return commit(tx, None, new, "order.opened")


def refuse_with_payments_in_flight(tx: Tx, order: Order) -> None:
    """A card on the reader, a tab's hold or a QR on screen must be settled or released first."""
    row = tx.conn.execute("SELECT id FROM payments WHERE order_id = %s AND status IN ('pending', 'authorised')"
                          " LIMIT 1", (order.id,)).fetchone()
    if row is not None:
        raise Conflict("the order has a payment in progress; finish or cancel it first", reason="has_payments",
                       payment_id=str(row["id"]))


def _modifiers(item: Any, option_ids: list[Any]) -> tuple[Modifier, ...]:
    chosen = choose_modifiers(item, [str(o) for o in option_ids])
    return tuple(Modifier(c.option_id, c.group_id, c.group_name, c.name, c.price_delta) for c in chosen)


@write("order.add_item", AddItemArgs, actor=order_actor)
def add_item(tx: Tx, order: Order | None, args: AddItemArgs) -> Result:
    """Add a line to an open order; refuses an 86'd or sold-out item, or modifier choices that break
    their group's rules."""
    order = current(order, args)
    item = item_for_order(tx.conn, tx.venue_id, str(args.item_id))
    if item is None:
        raise NotFound("no such menu item", item_id=str(args.item_id))
    if not item.available:
        raise Conflict(f"{item.name} is not available", reason="item_unavailable", item_id=item.id)
    line = Line(id=str(args.line_id), item_id=item.id, name=item.name, unit_price=item.price,
                quantity=args.quantity, modifiers=_modifiers(item, args.modifier_option_ids),
                station=item.station, vat_eat_in=item.vat_eat_in, vat_takeaway=item.vat_takeaway,
                position=actions.positions(order.lines), allergens=tuple(item.allergens), note=args.note,
                seat=args.seat, course=args.course)
    new = actions.add_line(order, line)
    take_stock(tx, item.id, args.quantity)
    return commit(tx, order, new, "order.updated")


@write("order.update_item", UpdateItemArgs, actor=order_actor)
def update_item(tx: Tx, order: Order | None, args: UpdateItemArgs) -> Result:
    """Change an unsent line's quantity, course, seat, note or modifiers, moving stock to match;
    refuses a sent line (void it instead)."""
    order = current(order, args)
    line = actions.require_unsent(order, str(args.line_id), "changed")
    fields = args.model_fields_set
    changes: dict[str, Any] = {}
    if args.quantity is not None:
        changes["quantity"] = args.quantity
    if args.course is not None:
        changes["course"] = args.course
    if "seat" in fields:
        changes["seat"] = args.seat       # null takes the line off any seat
    if "note" in fields:
        changes["note"] = args.note or ""
    if "modifier_option_ids" in fields:
        item = item_for_order(tx.conn, tx.venue_id, line.item_id)
        if item is None:
            raise NotFound("the menu item is gone", item_id=line.item_id)
        changes["modifiers"] = _modifiers(item, args.modifier_option_ids or [])
    updated = replace(line, **changes)
    delta = updated.quantity - line.quantity
    if delta > 0:
        take_stock(tx, line.item_id, delta)
    elif delta < 0:
        return_stock(tx, line.item_id, -delta)
    return commit(tx, order, actions.replace_line(order, updated), "order.updated")


@write("order.remove_item", LineArgs, actor=order_actor)
def remove_item(tx: Tx, order: Order | None, args: LineArgs) -> Result:
    """Take an unsent line off the order and put its stock back; refuses a sent line (void it instead)."""
    order = current(order, args)
    new, line = actions.remove_line(order, str(args.line_id))
    return_stock(tx, line.item_id, line.quantity)
    return commit(tx, order, new, "order.updated")


def _over_limit(tx: Tx, discount: Discount, base: int) -> bool:
    """Staff discounts above the venue's limit need a manager; managers approve themselves."""
    if tx.principal.role in (Role.MANAGER, Role.OWNER):
        return False
    limit = read_venue(tx.conn, tx.venue_id).settings.discount_approval_percent
    if discount.kind == "percent":
        return parse_rate(str(discount.value)) > parse_rate(limit)
    return int(discount.value) > percent_of(base, limit)


@write("order.apply_discount", DiscountArgs, actor=order_actor)
def apply_discount(tx: Tx, order: Order | None, args: DiscountArgs) -> Result:
    """Discount a line, or the whole order when no line is named; refuses a void line or more than
    it discounts, and asks for a manager's approval when staff go over the venue's limit."""
    order = current(order, args)
    discount = Discount(args.kind, args.value)
    line_id = str(args.line_id) if args.line_id else None
    new = actions.apply_discount(order, line_id, discount, args.reason)
    base = actions.require_line(order, line_id).gross if line_id else order.totals().after_discounts
    if _over_limit(tx, discount, base):
        tx.approve()
    return commit(tx, order, new, "order.updated")


@write("order.set_gratuity", GratuityArgs, actor=order_actor)
def set_gratuity(tx: Tx, order: Order | None, args: GratuityArgs) -> Result:
    """Set the order's gratuity (a percent or an amount), or clear it when neither is given;
    refuses a malformed percent."""
    order = current(order, args)
    gratuity = None if args.percent is None and args.amount is None else Gratuity(args.percent, args.amount)
    new = replace(order, gratuity=gratuity)
    new.totals()  # refuses a malformed percent before anything is written
    return commit(tx, order, new, "order.updated")


@write("order.transfer", TransferArgs, actor=order_actor)
def transfer(tx: Tx, order: Order | None, args: TransferArgs) -> Result:
    """Move the order to another table; refuses an unknown table, or one with an open order unless
    the venue allows several checks."""
    order = current(order, args)
    table_id = _table(tx, str(args.table), order.id)
    return commit(tx, order, replace(order, table_id=table_id), "order.transferred")


@write("order.cancel", CancelArgs, actor=order_actor)
def cancel(tx: Tx, order: Order | None, args: CancelArgs) -> Result:
    """Cancel the order with a reason and put its unsent lines' stock back; refuses an order with
    payments taken or in progress."""
    order = current(order, args)
    refuse_with_payments_in_flight(tx, order)
    new = actions.cancel(order, args.reason, repo.now(tx.conn))
    for line in order.lines:
        if line.state is LineState.UNSENT:
            return_stock(tx, line.item_id, line.quantity)
    return commit(tx, order, new, "order.cancelled")


@write("order.complete", OrderArgs, actor=order_actor)
def complete(tx: Tx, order: Order | None, args: OrderArgs) -> Result:
    """Close the order; refuses one not yet paid in full."""
    order = current(order, args)
    return commit(tx, order, actions.complete(order, repo.now(tx.conn)), "order.completed")
