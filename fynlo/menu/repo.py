"""Reading the menu as one document (what `menu.get` answers and terminals cache by version)."""

from __future__ import annotations

from typing import Any


def read_menu(conn: Any, venue_id: str) -> dict[str, Any]:
    version = conn.execute("SELECT menu_version FROM venues WHERE id = %s", (venue_id,)).fetchone()
    categories = conn.execute(
        "SELECT id, name, station, position FROM menu_categories WHERE venue_id = %s ORDER BY position, name",
        (venue_id,),
    ).fetchall()
    items = conn.execute(
        "SELECT i.id, i.category_id, i.name, i.description, i.price, i.vat_eat_in, i.vat_takeaway,"
        "       i.sku, i.barcode, i.allergens, i.available, i.stock, i.low_stock_at, i.position,"
        "       coalesce(array_agg(l.group_id ORDER BY l.position) FILTER (WHERE l.group_id IS NOT NULL),"
        "                '{}') AS modifier_group_ids"
        "  FROM menu_items i LEFT JOIN menu_item_modifier_groups l ON l.item_id = i.id"
        " WHERE i.venue_id = %s GROUP BY i.id ORDER BY i.position, i.name",
        (venue_id,),
    ).fetchall()
    groups = conn.execute(
        "SELECT id, name, min_choices, max_choices FROM modifier_groups WHERE venue_id = %s ORDER BY name",
        (venue_id,),
    ).fetchall()
    options = conn.execute(
        "SELECT o.id, o.group_id, o.name, o.price_delta, o.available FROM modifier_options o"
        "  JOIN modifier_groups g ON g.id = o.group_id WHERE g.venue_id = %s ORDER BY o.position, o.name",
        (venue_id,),
    ).fetchall()
    by_group: dict[Any, list[dict[str, Any]]] = {}
    for o in options:
        by_group.setdefault(o["group_id"], []).append(
            {"id": str(o["id"]), "name": o["name"], "price_delta": o["price_delta"], "available": o["available"]}
        )
    return {
        "version": version["menu_version"] if version else 0,
        "categories": [{**c, "id": str(c["id"])} for c in categories],
        "items": [
            {
                **i,
                "id": str(i["id"]),
                "category_id": str(i["category_id"]),
                "vat_eat_in": f"{i['vat_eat_in']:.2f}",
                "vat_takeaway": f"{i['vat_takeaway']:.2f}",
                "allergens": list(i["allergens"]),
                "modifier_group_ids": [str(g) for g in i["modifier_group_ids"]],
            }
            for i in items
        ],
        "modifier_groups": [
            {**g, "id": str(g["id"]), "options": by_group.get(g["id"], [])} for g in groups
        ],
    }
