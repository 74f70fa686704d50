"""Reading the menu: as one document (what `menu.get` answers and terminals cache by version),
as the changed parts of it (`menu.updated`), and one item as an order needs it.

Every query names the venue: another venue's ids read as nothing.
"""

from __future__ import annotations

import uuid
from typing import Any, Sequence

from fynlo.menu.catalogue import id_list, read_rows
from fynlo.menu.model import MenuItem, ModifierGroup, ModifierOption

Row = dict[str, Any]
Ids = Sequence[str] | None  # None: all of the venue's


def read_categories(conn: Any, venue_id: str, ids: Ids = None) -> list[Row]:
    return read_rows(conn, "menu_categories", ("id", "name", "station", "position"), venue_id, ids)


def read_items(conn: Any, venue_id: str, ids: Ids = None) -> list[Row]:
    rows = conn.execute(
        "SELECT i.id, i.category_id, i.name, i.description, i.price, i.vat_eat_in, i.vat_takeaway,"
        "       i.sku, i.barcode, i.allergens, i.available, i.stock, i.low_stock_at, i.position,"
        "       coalesce(array_agg(l.group_id ORDER BY l.position) FILTER (WHERE l.group_id IS NOT NULL),"
        "                '{}') AS modifier_group_ids"
        "  FROM menu_items i LEFT JOIN menu_item_modifier_groups l ON l.item_id = i.id"
        " WHERE i.venue_id = %(v)s AND (%(ids)s::uuid[] IS NULL OR i.id = ANY(%(ids)s::uuid[]))"
        " GROUP BY i.id ORDER BY i.position, i.name",
        {"v": venue_id, "ids": id_list(ids)},
    ).fetchall()
    return [
        {
            **i,
            "id": str(i["id"]),
            "category_id": str(i["category_id"]),
            "vat_eat_in": f"{i['vat_eat_in']:.2f}",
            "vat_takeaway": f"{i['vat_takeaway']:.2f}",
            "allergens": list(i["allergens"]),
            "modifier_group_ids": [str(g) for g in i["modifier_group_ids"]],
        }
        for i in rows
    ]


def read_groups(conn: Any, venue_id: str, ids: Ids = None) -> list[Row]:
    groups = read_rows(conn, "modifier_groups", ("id", "name", "min_choices", "max_choices"), venue_id, ids,
                       order="name, id")
    options = conn.execute(
        "SELECT o.id, o.group_id, o.name, o.price_delta, o.available FROM modifier_options o"
        "  JOIN modifier_groups g ON g.id = o.group_id"
        " WHERE g.venue_id = %(v)s AND (%(ids)s::uuid[] IS NULL OR g.id = ANY(%(ids)s::uuid[]))"
        " ORDER BY o.position, o.name",
        {"v": venue_id, "ids": id_list(ids)},
    ).fetchall()
    by_group: dict[str, list[Row]] = {}
    for o in options:
        by_group.setdefault(str(o["group_id"]), []).append(
            {"id": str(o["id"]), "name": o["name"], "price_delta": o["price_delta"], "available": o["available"]}
        )
    return [{**g, "options": by_group.get(g["id"], [])} for g in groups]


def read_menu(conn: Any, venue_id: str) -> dict[str, Any]:
    version = conn.execute("SELECT menu_version FROM venues WHERE id = %s", (venue_id,)).fetchone()
    return {
        "version": version["menu_version"] if version else 0,
        "categories": read_categories(conn, venue_id),
        "items": read_items(conn, venue_id),
        "modifier_groups": read_groups(conn, venue_id),
    }


# venue id -> (menu version, the items read at that version). Every change a terminal could
# see in an item bumps the venue's menu version (`changes.MENU`), so an entry is good for as
# long as the version is; a command checks that it still is under the venue row lock
# (fynlo/commands/unit.py). Only stock counts move without a new version.
_ITEMS: dict[str, tuple[int, dict[str, MenuItem]]] = {}


def item_for_order(conn: Any, venue_id: str, item_id: str) -> MenuItem | None:
    """One item of this venue with its station and modifier groups, or None (unknown id, or
    another venue's). An unavailable (86'd) item is returned with `available` false: refusing
    it is the order's call. No lock (stock is taken with `stock.take_stock`).

    Inside a command, the item comes from memory when the menu is still at the version the
    command started from; otherwise two queries. A remembered item's `stock` may be behind
    (orders count it down without a new version): whether it is counted at all is current.
    """
    try:
        item_id = str(uuid.UUID(str(item_id)))
    except ValueError:
        return None
    version = getattr(conn, "memo", {}).get("menu_version")
    if version is None:
        return _read_item(conn, venue_id, item_id)
    held = _ITEMS.get(venue_id)
    if held is None or held[0] != version:
        held = _ITEMS[venue_id] = (version, {})
    item = held[1].get(item_id)
    if item is None:
        item = _read_item(conn, venue_id, item_id)
        if item is not None:
            held[1][item_id] = item
    return item


def _read_item(conn: Any, venue_id: str, item_id: str) -> MenuItem | None:
    """Two queries, both sent before either answer is read (one round trip when pipelined)."""
    item = conn.execute(
        "SELECT i.id, i.name, i.price, i.vat_eat_in, i.vat_takeaway, i.category_id, i.allergens,"
        "       i.available, i.stock, c.station"
        "  FROM menu_items i JOIN menu_categories c ON c.id = i.category_id AND c.venue_id = i.venue_id"
        " WHERE i.id = %s AND i.venue_id = %s",
        (item_id, venue_id),
    )
    options = conn.execute(
        "SELECT g.id AS group_id, g.name AS group_name, g.min_choices, g.max_choices,"
        "       o.id, o.name, o.price_delta, o.available"
        "  FROM menu_item_modifier_groups l"
        "  JOIN modifier_groups g ON g.id = l.group_id AND g.venue_id = %s"
        "  LEFT JOIN modifier_options o ON o.group_id = g.id"
        " WHERE l.item_id = %s ORDER BY l.position, g.id, o.position, o.name",
        (venue_id, item_id),
    )
    row = item.fetchone()
    if row is None:
        return None
    groups: dict[str, tuple[Row, dict[str, ModifierOption]]] = {}
    for o in options.fetchall():
        _, by_id = groups.setdefault(str(o["group_id"]), (o, {}))
        if o["id"] is not None:
            by_id[str(o["id"])] = ModifierOption(str(o["id"]), o["name"], o["price_delta"], o["available"])
    return MenuItem(
        id=item_id,
        name=row["name"],
        price=row["price"],
        vat_eat_in=f"{row['vat_eat_in']:.2f}",
        vat_takeaway=f"{row['vat_takeaway']:.2f}",
        station=row["station"],
        category_id=str(row["category_id"]),
        allergens=tuple(row["allergens"]),
        available=row["available"],
        stock=row["stock"],
        groups=tuple(
            ModifierGroup(gid, g["group_name"], g["min_choices"], g["max_choices"], by_id)
            for gid, (g, by_id) in groups.items()
        ),
    )
