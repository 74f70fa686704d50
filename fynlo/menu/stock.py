"""Stock counts: orders take from them, removed lines put back, and a count at 0 86's the item.

Called inside an order command's transaction (the order actor's `Tx`), so the count moves in
the same commit as the line that took it. Only items with a count (`stock` not null) are
touched; for the rest these functions look the item up (`repo.item_for_order`, from memory
inside a command) and return.

The rule for availability is `model.settle`: reaching 0 takes the item off and marks it
`stock_out`; an item the count took off comes back when its count is above 0 again (a line
put back, `menu.set_stock`). An item 86'd by hand stays off until someone puts it back.
"""

from __future__ import annotations

from typing import Any

from fynlo.commands.unit import Tx
from fynlo.errors import Conflict, NotFound, ValidationError
from fynlo.menu.changes import MENU
from fynlo.menu.catalogue import hold_venue
from fynlo.menu.model import settle
from fynlo.menu.repo import item_for_order


def take_stock(tx: Tx, item_id: str, quantity: int) -> None:
    """Take `quantity` of a counted item for an order line.

    Emits `menu.stock_low {item_id, name, stock, low_stock_at}` when the count is then at or
    below the item's `low_stock_at`, and `menu.updated` (the item, now unavailable) when it
    reaches 0. Takes the venue row lock before the item's (the lock order of `catalogue`).

    Raises:
        Conflict: not enough left: `reason: out_of_stock`, `available` (what is left), `item_id`.
        NotFound: no such item in this venue.
        ValidationError: a quantity below 1.
    """
    if not _counted(tx, item_id, quantity):
        return
    row = tx.conn.execute(
        "UPDATE menu_items SET stock = stock - %s WHERE id = %s AND venue_id = %s AND stock >= %s"
        " RETURNING name, stock, low_stock_at",
        (quantity, item_id, tx.venue_id, quantity),
    ).fetchone()
    if row is None:
        left = _count(tx, item_id)
        if left is None:  # it stopped being counted before we took the lock
            return
        raise Conflict(f"only {left} left", reason="out_of_stock", item_id=item_id, available=left)
    if row["low_stock_at"] is not None and row["stock"] <= row["low_stock_at"]:
        tx.emit("menu.stock_low", {"item_id": item_id, "name": row["name"], "stock": row["stock"],
                                   "low_stock_at": row["low_stock_at"]})
    if resettle(tx.conn, tx.venue_id, item_id):
        MENU.publish(tx, items=[item_id])


def return_stock(tx: Tx, item_id: str, quantity: int) -> None:
    """Put back what `take_stock` took for a line that was removed before it was sent.

    An item the count took off is available again (`menu.updated`); one 86'd by hand is not.

    Raises:
        NotFound: no such item in this venue.
        ValidationError: a quantity below 1.
    """
    if not _counted(tx, item_id, quantity):
        return
    tx.conn.execute(
        "UPDATE menu_items SET stock = stock + %s WHERE id = %s AND venue_id = %s AND stock IS NOT NULL",
        (quantity, item_id, tx.venue_id),
    )
    if resettle(tx.conn, tx.venue_id, item_id):
        MENU.publish(tx, items=[item_id])


def resettle(conn: Any, venue_id: str, item_id: str) -> bool:
    """Apply the stock rule to the item as it now stands; True when its availability changed."""
    row = conn.execute(
        "SELECT available, stock_out, stock FROM menu_items WHERE id = %s AND venue_id = %s",
        (item_id, venue_id),
    ).fetchone()
    if row is None:
        return False
    now = settle(row["available"], row["stock_out"], row["stock"])
    if now == (row["available"], row["stock_out"]):
        return False
    conn.execute(
        "UPDATE menu_items SET available = %s, stock_out = %s WHERE id = %s AND venue_id = %s",
        (*now, item_id, venue_id),
    )
    return True


def _counted(tx: Tx, item_id: str, quantity: int) -> bool:
    """Whether the item has a count (then the venue is locked for the change), after checks."""
    if quantity < 1:
        raise ValidationError("quantity must be at least 1", field="quantity")
    item = item_for_order(tx.conn, tx.venue_id, item_id)
    if item is None:
        raise NotFound("no such menu item", item_id=item_id)
    if item.stock is None:
        return False
    hold_venue(tx.conn, tx.venue_id)
    return True


def _count(tx: Tx, item_id: str) -> int | None:
    row = tx.conn.execute(
        "SELECT stock FROM menu_items WHERE id = %s AND venue_id = %s", (item_id, tx.venue_id)
    ).fetchone()
    if row is None:
        raise NotFound("no such menu item", item_id=item_id)
    return row["stock"]
