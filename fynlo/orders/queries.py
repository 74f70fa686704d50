"""Reads for terminals and kitchen screens: one order, the open orders, the kitchen's tickets."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from fynlo.auth.principal import Principal
from fynlo.commands.spec import Args, query
from fynlo.errors import NotFound
from fynlo.orders import repo


class GetArgs(Args):
    order_id: UUID


@query("order.get", GetArgs)
def order_get(conn: Any, principal: Principal, args: GetArgs) -> dict[str, Any]:
    order = repo.load(conn, principal.venue_id, str(args.order_id))
    if order is None:
        raise NotFound("no such order")
    return order.view()


class ListArgs(Args):
    status: Literal["open", "completed", "cancelled"] = "open"
    limit: int = Field(default=200, ge=1, le=500)


@query("order.list", ListArgs)
def order_list(conn: Any, principal: Principal, args: ListArgs) -> dict[str, Any]:
    """Newest first; open orders are what a terminal loads when it starts."""
    rows = conn.execute(
        "SELECT id FROM orders WHERE venue_id = %s AND status = %s ORDER BY opened_at DESC LIMIT %s",
        (principal.venue_id, args.status, args.limit),
    ).fetchall()
    orders = [repo.load(conn, principal.venue_id, str(r["id"])) for r in rows]
    return {"orders": [o.view() for o in orders if o is not None]}


class KitchenArgs(Args):
    station: str | None = Field(default=None, max_length=40)


@query("kitchen.get", KitchenArgs)
def kitchen_get(conn: Any, principal: Principal, args: KitchenArgs) -> dict[str, Any]:
    """The tickets a kitchen screen shows: fired and not yet bumped, oldest first."""
    rows = conn.execute(
        "SELECT t.id, t.order_id FROM kitchen_tickets t JOIN orders o ON o.id = t.order_id"
        " WHERE t.venue_id = %s AND t.status IN ('sent', 'preparing') AND o.status = 'open'"
        " AND (%s::text IS NULL OR t.station = %s) ORDER BY t.fired_at, t.id",
        (principal.venue_id, args.station, args.station),
    ).fetchall()
    orders: dict[str, Any] = {}
    tickets = []
    for row in rows:
        order_id = str(row["order_id"])
        if order_id not in orders:
            orders[order_id] = repo.load(conn, principal.venue_id, order_id)
        order = orders[order_id]
        ticket = order.ticket(str(row["id"])) if order else None
        if ticket is not None:
            tickets.append(ticket.view(order))
    return {"tickets": tickets}
