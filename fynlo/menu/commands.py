"""The menu's commands: `menu.get`, the upserts, `menu.set_available` and `menu.set_stock`.

Every write runs in the venue's one menu actor (`("menu", venue_id)`), so menu edits queue
instead of racing. Each change bumps the menu `version` and emits one `menu.updated` with what
changed (`changes.MENU`); a write that changes nothing answers the current version and emits
nothing. Upserts answer that same data plus `created`.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field, StrictBool, StrictInt

from fynlo.commands.spec import Args, write
from fynlo.commands.unit import Tx
from fynlo.errors import Conflict, NotFound
from fynlo.menu.catalogue import Row, missing, upsert_row
from fynlo.menu.changes import MENU
from fynlo.menu.model import MAX_STOCK, CategoryFields, GroupFields, ItemFields
from fynlo.menu.repo import read_menu
from fynlo.menu.stock import resettle

Result = tuple[dict[str, Any], int]

MENU.serve("menu.get", read_menu)


@MENU.upsert("menu.upsert_category", "categories", CategoryFields)
def save_category(tx: Tx, category_id: str, category: CategoryFields, args: Any) -> None:
    upsert_row(tx.conn, "menu_categories", ("venue_id", tx.venue_id), category_id, category.model_dump())


@MENU.upsert("menu.upsert_item", "items", ItemFields)
def save_item(tx: Tx, item_id: str, item: ItemFields, args: Any) -> None:
    conn, venue_id = tx.conn, tx.venue_id
    values = item.model_dump(mode="json", exclude={"modifier_group_ids"})
    if missing(conn, "menu_categories", [values["category_id"]], venue_id):
        raise NotFound("no such category", category_id=values["category_id"])
    group_ids = [str(g) for g in item.modifier_group_ids]
    unknown = missing(conn, "modifier_groups", group_ids, venue_id)
    if unknown:
        raise NotFound("no such modifier group", modifier_group_ids=unknown)
    if item.sku is not None and conn.execute(
        "SELECT 1 FROM menu_items WHERE venue_id = %s AND sku = %s AND id <> %s", (venue_id, item.sku, item_id)
    ).fetchone():
        raise Conflict(f"another item already has the sku {item.sku}", reason="duplicate_sku", sku=item.sku)
    if "available" in args.model_fields_set:
        values["stock_out"] = False  # said by hand: no longer the count's doing
    upsert_row(conn, "menu_items", ("venue_id", venue_id), item_id, values)
    conn.execute(
        "DELETE FROM menu_item_modifier_groups l USING menu_items i"
        " WHERE l.item_id = i.id AND i.id = %s AND i.venue_id = %s",
        (item_id, venue_id),
    )
    conn.cursor().executemany(
        "INSERT INTO menu_item_modifier_groups (item_id, group_id, position) VALUES (%s, %s, %s)",
        [(item_id, g, position) for position, g in enumerate(group_ids)],
    )
    resettle(conn, venue_id, item_id)


@MENU.upsert("menu.upsert_modifier_group", "modifier_groups", GroupFields)
def save_modifier_group(tx: Tx, group_id: str, group: GroupFields, args: Any) -> None:
    conn, venue_id = tx.conn, tx.venue_id
    option_ids = [str(o.id) for o in group.options]
    for other in conn.execute(
        "SELECT o.id, g.venue_id FROM modifier_options o JOIN modifier_groups g ON g.id = o.group_id"
        " WHERE o.id = ANY(%s::uuid[]) AND o.group_id <> %s",
        (option_ids, group_id),
    ).fetchall():
        if str(other["venue_id"]) != venue_id:
            raise NotFound("no such modifier option", option=str(other["id"]))
        raise Conflict("that option belongs to another modifier group", reason="option_in_other_group",
                       option=str(other["id"]))
    upsert_row(conn, "modifier_groups", ("venue_id", venue_id), group_id, group.model_dump(exclude={"options"}))
    # Options left out are deleted: order lines keep their own copy of what was chosen.
    conn.execute(
        "DELETE FROM modifier_options o USING modifier_groups g"
        " WHERE o.group_id = g.id AND g.id = %s AND g.venue_id = %s AND NOT o.id = ANY(%s::uuid[])",
        (group_id, venue_id, option_ids),
    )
    for position, option in enumerate(group.options):
        upsert_row(conn, "modifier_options", ("group_id", group_id), str(option.id),
                   {**option.model_dump(exclude={"id"}), "position": position})


# -- during service --------------------------------------------------------------------------

class SetAvailableArgs(Args):
    item_id: UUID
    available: StrictBool


class SetStockArgs(Args):
    item_id: UUID
    stock: StrictInt | None = Field(ge=0, le=MAX_STOCK, description="null: stop counting")
    low_stock_at: StrictInt | None = Field(default=None, ge=0, le=MAX_STOCK)


def _item_change(tx: Tx, item_id: str, sets: str, params: tuple[Any, ...]) -> Result:
    """Set some of an existing item's columns, apply the stock rule, publish if it changed."""

    def change(current: Row | None) -> None:
        if current is None:
            raise NotFound("no such menu item", item_id=item_id)
        tx.conn.execute(f"UPDATE menu_items SET {sets} WHERE id = %s AND venue_id = %s",
                        (*params, item_id, tx.venue_id))
        resettle(tx.conn, tx.venue_id, item_id)

    delta, _ = MENU.edit(tx, "items", item_id, change)
    return delta, delta["version"]


@write("menu.set_available", SetAvailableArgs, actor=MENU.actor_key)
def set_available(tx: Tx, version: int | None, args: SetAvailableArgs) -> Result:
    """86 an item (or bring it back). An item whose count is at 0 stays off until restocked."""
    return _item_change(tx, str(args.item_id), "available = %s, stock_out = false", (args.available,))


@write("menu.set_stock", SetStockArgs, actor=MENU.actor_key)
def set_stock(tx: Tx, version: int | None, args: SetStockArgs) -> Result:
    """Count an item's stock (null stops counting); `low_stock_at` is kept unless given."""
    if "low_stock_at" in args.model_fields_set:
        return _item_change(tx, str(args.item_id), "stock = %s, low_stock_at = %s", (args.stock, args.low_stock_at))
    return _item_change(tx, str(args.item_id), "stock = %s", (args.stock,))
