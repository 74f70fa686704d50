"""Menu management through a real server: upserts, versions and events, who may do what,
another venue's ids, bad input, 86'ing, and stock taken by orders."""

from __future__ import annotations

import uuid
from typing import Any, Callable

import pytest
import trio
from pydantic import Field

from fynlo.commands.spec import Args, write
from fynlo.commands.unit import Tx
from fynlo.db import Database
from fynlo.menu.repo import item_for_order, read_menu
from fynlo.menu.stock import return_stock, take_stock
from fynlo.runtime.entity import loader
from sim.client import TerminalClient
from tests.support import VenueKit, make_venue
from tests.test_commands import post


# -- a tiny order stand-in: the order engineer's commands call these same functions ----------

class _Stock(Args):
    item_id: str
    quantity: int = Field(ge=-5)
    order: str = "one"  # each order is its own actor: orders take stock in parallel


@write("test.menu_take_stock", _Stock, actor=lambda a, p: ("test-order", a.order))
def _take(tx: Tx, state: Any, args: _Stock) -> tuple[Any, Any]:
    take_stock(tx, args.item_id, args.quantity)
    tx.emit("test.order_line", {"item_id": args.item_id})
    return {}, state


@write("test.menu_return_stock", _Stock, actor=lambda a, p: ("test-order", a.order))
def _return(tx: Tx, state: Any, args: _Stock) -> tuple[Any, Any]:
    return_stock(tx, args.item_id, args.quantity)
    tx.emit("test.order_line_removed", {"item_id": args.item_id})
    return {}, state



@loader("test-order")
def _load(conn: Any, venue_id: str, entity_id: str) -> None:
    return None


# -- helpers ---------------------------------------------------------------------------------

def new_id() -> str:
    return str(uuid.uuid4())


async def ok(server: str, token: str, name: str, args: dict[str, Any]) -> Any:
    reply = await post(server, token, name, args)
    assert reply["ok"], reply
    return reply["result"]


async def snapshot(db: Database, venue_id: str, read: Callable[[Any, str], Any] = read_menu,
                   key: str = "menu") -> dict[str, Any]:
    """Everything a command could change: the document (`read`) under `key`, and the events."""

    def work(conn):  # type: ignore[no-untyped-def]
        events = [(r["name"], r["data"]) for r in conn.execute(
            "SELECT name, data FROM events WHERE venue_id = %s ORDER BY seq", (venue_id,)).fetchall()]
        return {key: read(conn, venue_id), "events": events}

    return await db.run(work)


async def seed(server: str, kit: VenueKit) -> dict[str, str]:
    """A category, a cooking group and a steak in it, by the manager."""
    ids = {"category": new_id(), "group": new_id(), "item": new_id(), "rare": new_id(), "well": new_id()}
    token = kit.token("manager")
    await ok(server, token, "menu.upsert_category", {"id": ids["category"], "name": "Mains", "station": "kitchen"})
    await ok(server, token, "menu.upsert_modifier_group", {
        "id": ids["group"], "name": "Cooking", "min_choices": 1, "max_choices": 1,
        "options": [{"id": ids["rare"], "name": "Rare"}, {"id": ids["well"], "name": "Well done", "price_delta": 0}]})
    await ok(server, token, "menu.upsert_item", {
        "id": ids["item"], "category_id": ids["category"], "name": "Sirloin", "price": 2600,
        "vat_eat_in": "20.00", "vat_takeaway": "20.00", "sku": "STEAK", "allergens": ["Milk"],
        "modifier_group_ids": [ids["group"]]})
    return ids


# -- upserts, versions, events ---------------------------------------------------------------

async def test_upserts_create_then_update_each_with_one_event(server: str, db: Database, kit: VenueKit) -> None:
    start = await snapshot(db, kit.venue_id)
    ids = await seed(server, kit)
    after_seed = await snapshot(db, kit.venue_id)
    menu = after_seed["menu"]
    assert menu["version"] == start["menu"]["version"] + 3
    new_events = after_seed["events"][len(start["events"]):]
    assert [name for name, _ in new_events] == ["menu.updated"] * 3
    assert [data["version"] for _, data in new_events] == [menu["version"] - 2, menu["version"] - 1, menu["version"]]
    (item,) = menu["items"]
    assert item == {
        "id": ids["item"], "category_id": ids["category"], "name": "Sirloin", "description": "", "price": 2600,
        "vat_eat_in": "20.00", "vat_takeaway": "20.00", "sku": "STEAK", "barcode": None, "allergens": ["milk"],
        "available": True, "stock": None, "low_stock_at": None, "position": 0, "modifier_group_ids": [ids["group"]],
    }
    # the event carries the changed item exactly as menu.get shows it, and nothing else
    assert new_events[-1][1] == {"version": menu["version"], "categories": [], "items": [item], "modifier_groups": []}
    assert [o["name"] for o in menu["modifier_groups"][0]["options"]] == ["Rare", "Well done"]

    # an update names only what changes; the rest keeps its value
    result = await ok(server, kit.token("owner"), "menu.upsert_item",
                      {"id": ids["item"], "price": 2800, "vat_takeaway": "0"})
    assert result["created"] is False and result["version"] == menu["version"] + 1
    assert result["items"] == [{**item, "price": 2800, "vat_takeaway": "0.00"}]
    got = await ok(server, kit.token("staff"), "menu.get", {})
    assert got["version"] == menu["version"] + 1 and got["items"] == result["items"]
    last = (await snapshot(db, kit.venue_id))["events"][-1]
    assert last == ("menu.updated", {k: v for k, v in result.items() if k != "created"})


async def test_an_upsert_that_changes_nothing_bumps_nothing(server: str, db: Database, kit: VenueKit) -> None:
    ids = await seed(server, kit)
    before = await snapshot(db, kit.venue_id)
    again = await ok(server, kit.token("manager"), "menu.upsert_category", {"id": ids["category"], "name": "Mains"})
    assert again["version"] == before["menu"]["version"] and again["created"] is False
    assert await snapshot(db, kit.venue_id) == before


async def test_modifier_group_options_left_out_are_removed(server: str, db: Database, kit: VenueKit) -> None:
    ids = await seed(server, kit)
    medium = new_id()
    result = await ok(server, kit.token("manager"), "menu.upsert_modifier_group", {
        "id": ids["group"], "options": [{"id": medium, "name": "Medium"}, {"id": ids["rare"], "name": "Blue"}]})
    (group,) = result["modifier_groups"]
    assert [(o["id"], o["name"]) for o in group["options"]] == [(medium, "Medium"), (ids["rare"], "Blue")]
    assert (group["min_choices"], group["max_choices"]) == (1, 1)
    # an option of one group cannot be claimed by another
    other = await post(server, kit.token("manager"), "menu.upsert_modifier_group", {
        "id": new_id(), "name": "Sauce", "options": [{"id": medium, "name": "Peppercorn"}]})
    assert other["error"]["code"] == "conflict"
    item = await db.run(lambda c: item_for_order(c, kit.venue_id, ids["item"]))
    assert item is not None and list(item.groups[0].options) == [medium, ids["rare"]]


async def test_item_for_order_has_station_groups_and_options(server: str, db: Database, kit: VenueKit, settings) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(server, kit)
    item = await db.run(lambda c: item_for_order(c, kit.venue_id, ids["item"]))
    assert item is not None
    assert (item.name, item.price, item.station, item.vat_eat_in, item.allergens) == ("Sirloin", 2600, "kitchen", "20.00", ("milk",))
    assert item.category_id == ids["category"] and item.available and item.stock is None
    (group,) = item.groups
    assert (group.id, group.min_choices, group.max_choices) == (ids["group"], 1, 1)
    assert [o.name for o in group.options.values()] == ["Rare", "Well done"]
    other = await make_venue(db, settings, "Elsewhere")
    assert await db.run(lambda c: item_for_order(c, other.venue_id, ids["item"])) is None
    assert await db.run(lambda c: item_for_order(c, kit.venue_id, "not-a-uuid")) is None
    assert await db.run(lambda c: item_for_order(c, kit.venue_id, new_id())) is None


# -- who may -------------------------------------------------------------------------------

async def test_staff_cannot_upsert_but_the_kitchen_can_86(server: str, db: Database, kit: VenueKit) -> None:
    ids = await seed(server, kit)
    before = await snapshot(db, kit.venue_id)
    for role in ("staff", "kitchen"):
        reply = await post(server, kit.token(role), "menu.upsert_item", {"id": ids["item"], "price": 1})
        assert reply["error"]["code"] == "forbidden"
    assert await snapshot(db, kit.venue_id) == before
    async with TerminalClient.connect(server, kit.token("staff"), terminal_id=kit.terminal_id) as till:
        result = await ok(server, kit.token("kitchen"), "menu.set_available", {"item_id": ids["item"], "available": False})
        event = await till.next_event()
    assert event["name"] == "menu.updated" and event["data"] == result
    assert event["by"] == kit.people["kitchen"].staff_id
    assert result["version"] == before["menu"]["version"] + 1
    assert [i["available"] for i in result["items"]] == [False]
    # 86'ing it again changes nothing, and says so without an event
    again = await ok(server, kit.token("kitchen"), "menu.set_available", {"item_id": ids["item"], "available": False})
    assert again["version"] == result["version"]
    back = await ok(server, kit.token("staff"), "menu.set_available", {"item_id": ids["item"], "available": True})
    assert back["items"][0]["available"] is True


# -- another venue ---------------------------------------------------------------------------

async def test_another_venues_ids_are_not_found_and_untouched(server: str, db: Database, kit: VenueKit, settings) -> None:  # type: ignore[no-untyped-def]
    other = await make_venue(db, settings, "Other Place")
    theirs = await seed(server, other)
    mine = await seed(server, kit)
    their_before = await snapshot(db, other.venue_id)
    my_before = await snapshot(db, kit.venue_id)
    token = kit.token("manager")
    attempts = [
        ("menu.upsert_item", {"id": theirs["item"], "price": 1}),
        ("menu.upsert_item", {"id": theirs["item"], "category_id": mine["category"], "name": "Mine now", "price": 1}),
        ("menu.upsert_category", {"id": theirs["category"], "name": "Mine now"}),
        ("menu.upsert_modifier_group", {"id": theirs["group"], "name": "Mine now"}),
        ("menu.upsert_modifier_group", {"id": new_id(), "name": "Grab", "options": [{"id": theirs["rare"], "name": "x"}]}),
        ("menu.upsert_item", {"id": mine["item"], "category_id": theirs["category"]}),
        ("menu.upsert_item", {"id": mine["item"], "modifier_group_ids": [theirs["group"]]}),
        ("menu.set_available", {"item_id": theirs["item"], "available": False}),
        ("menu.set_stock", {"item_id": theirs["item"], "stock": 0}),
    ]
    for name, args in attempts:
        reply = await post(server, token, name, args)
        assert reply["ok"] is False and reply["error"]["code"] == "not_found", (name, args, reply)
    assert await snapshot(db, other.venue_id) == their_before
    assert await snapshot(db, kit.venue_id) == my_before


# -- bad input -------------------------------------------------------------------------------

def _bad_inputs() -> list[tuple[str, dict[str, Any], str]]:
    item = "ITEM"  # replaced by the seeded ids in the test
    return [
        ("menu.upsert_item", {"id": item, "price": -1}, "validation_error"),
        ("menu.upsert_item", {"id": item, "price": 12.5}, "validation_error"),
        ("menu.upsert_item", {"id": item, "price": "1250"}, "validation_error"),
        ("menu.upsert_item", {"id": item, "vat_eat_in": "100.01"}, "validation_error"),
        ("menu.upsert_item", {"id": item, "vat_eat_in": "-1"}, "validation_error"),
        ("menu.upsert_item", {"id": item, "vat_eat_in": "12.345"}, "validation_error"),
        ("menu.upsert_item", {"id": item, "vat_takeaway": 20}, "validation_error"),
        ("menu.upsert_item", {"id": item, "name": ""}, "validation_error"),
        ("menu.upsert_item", {"id": item, "name": None}, "validation_error"),
        ("menu.upsert_item", {"id": item, "stock": -1}, "validation_error"),
        ("menu.upsert_item", {"id": item, "allergens": [""]}, "validation_error"),
        ("menu.upsert_item", {"id": item, "modifier_group_ids": ["GROUP", "GROUP"]}, "validation_error"),
        ("menu.upsert_item", {"id": item, "colour": "red"}, "validation_error"),
        ("menu.upsert_item", {"id": "not-a-uuid", "price": 1}, "validation_error"),
        ("menu.upsert_item", {"id": "NEW", "name": "No category or price"}, "validation_error"),
        ("menu.upsert_item", {"id": "NEW", "category_id": "NEW", "name": "Ghost", "price": 1}, "not_found"),
        ("menu.upsert_item", {"id": "NEW", "category_id": "CATEGORY", "name": "Twin", "price": 1, "sku": "STEAK"}, "conflict"),
        ("menu.upsert_category", {"id": "NEW", "name": "Grill", "station": "grill"}, "validation_error"),
        ("menu.upsert_category", {"id": "NEW"}, "validation_error"),
        ("menu.upsert_modifier_group", {"id": "GROUP", "min_choices": 2}, "validation_error"),
        ("menu.upsert_modifier_group", {"id": "NEW", "name": "Sides", "min_choices": 2, "max_choices": 1}, "validation_error"),
        ("menu.upsert_modifier_group", {"id": "NEW", "name": "Sides", "max_choices": 0}, "validation_error"),
        ("menu.upsert_modifier_group", {"id": "GROUP", "options": [{"id": "NEW", "name": "a"}, {"id": "NEW", "name": "b"}]},
         "validation_error"),
        ("menu.upsert_modifier_group", {"id": "GROUP", "options": [{"id": "NEW", "name": "a", "price_delta": 1.5}]},
         "validation_error"),
        ("menu.set_available", {"item_id": item}, "validation_error"),
        ("menu.set_available", {"item_id": item, "available": "no"}, "validation_error"),
        ("menu.set_available", {"item_id": "NEW", "available": False}, "not_found"),
        ("menu.set_stock", {"item_id": item, "stock": -3}, "validation_error"),
    ]


@pytest.mark.parametrize("name, args, code", _bad_inputs())
async def test_bad_input_is_refused_and_changes_nothing(server: str, db: Database, kit: VenueKit,
                                                        name: str, args: dict[str, Any], code: str) -> None:
    ids = await seed(server, kit)
    fresh = new_id()
    names = {"ITEM": ids["item"], "GROUP": ids["group"], "CATEGORY": ids["category"], "NEW": fresh}

    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return names.get(value, value) if isinstance(value, str) else value

    before = await snapshot(db, kit.venue_id)
    reply = await post(server, kit.token("manager"), name, fill(args))
    assert reply["ok"] is False and reply["error"]["code"] == code, reply
    assert await snapshot(db, kit.venue_id) == before


# -- stock -----------------------------------------------------------------------------------

async def test_stock_warns_when_low_86s_at_zero_and_refuses_more(server: str, db: Database, kit: VenueKit) -> None:
    ids = await seed(server, kit)
    steak = ids["item"]
    manager = kit.token("manager")
    counted = await ok(server, manager, "menu.set_stock", {"item_id": steak, "stock": 5, "low_stock_at": 2})
    assert counted["items"][0]["stock"] == 5 and counted["items"][0]["low_stock_at"] == 2
    start = await snapshot(db, kit.venue_id)

    await ok(server, manager, "test.menu_take_stock", {"item_id": steak, "quantity": 2})  # 3 left: quiet
    quiet = await snapshot(db, kit.venue_id)
    assert [n for n, _ in quiet["events"][len(start["events"]):]] == ["test.order_line"]
    assert quiet["menu"]["version"] == start["menu"]["version"]

    await ok(server, manager, "test.menu_take_stock", {"item_id": steak, "quantity": 1})  # 2 left: low
    low = await snapshot(db, kit.venue_id)
    assert low["events"][len(quiet["events"]):] == [
        ("menu.stock_low", {"item_id": steak, "name": "Sirloin", "stock": 2, "low_stock_at": 2}),
        ("test.order_line", {"item_id": steak})]

    refused = await post(server, manager, "test.menu_take_stock", {"item_id": steak, "quantity": 3})
    assert refused["error"]["code"] == "conflict"
    assert refused["error"]["details"] == {"reason": "out_of_stock", "item_id": steak, "available": 2}
    assert refused["error"]["message"] == "only 2 left"
    assert await snapshot(db, kit.venue_id) == low

    await ok(server, manager, "test.menu_take_stock", {"item_id": steak, "quantity": 2})  # 0 left: 86'd
    out = await snapshot(db, kit.venue_id)
    names = [n for n, _ in out["events"][len(low["events"]):]]
    assert names == ["menu.stock_low", "menu.updated", "test.order_line"]
    updated = out["events"][len(low["events"]) + 1][1]
    assert updated["version"] == low["menu"]["version"] + 1
    assert updated["items"][0]["available"] is False and updated["items"][0]["stock"] == 0
    assert (await post(server, manager, "test.menu_take_stock", {"item_id": steak, "quantity": 1}))["error"]["details"]["available"] == 0

    # a removed line puts it back, and what the count took off comes back with it
    await ok(server, manager, "test.menu_return_stock", {"item_id": steak, "quantity": 1})
    back = await snapshot(db, kit.venue_id)
    assert back["events"][-2][0] == "menu.updated"
    assert back["menu"]["items"][0]["available"] is True and back["menu"]["items"][0]["stock"] == 1


async def test_an_item_86d_by_hand_stays_off_when_stock_comes_back(server: str, db: Database, kit: VenueKit) -> None:
    ids = await seed(server, kit)
    steak, manager = ids["item"], kit.token("manager")
    await ok(server, manager, "menu.set_stock", {"item_id": steak, "stock": 1})
    await ok(server, manager, "menu.set_available", {"item_id": steak, "available": False})
    await ok(server, manager, "test.menu_return_stock", {"item_id": steak, "quantity": 2})
    assert (await ok(server, manager, "menu.get", {}))["items"][0]["available"] is False
    # restocking by hand to 0 86's; above 0 brings back what the count took off
    zero = await ok(server, kit.token("kitchen"), "menu.set_stock", {"item_id": steak, "stock": 0})
    assert zero["items"][0]["available"] is False
    await ok(server, manager, "menu.set_available", {"item_id": steak, "available": True})  # asked, but none left
    assert (await ok(server, manager, "menu.get", {}))["items"][0]["available"] is False
    restocked = await ok(server, manager, "menu.set_stock", {"item_id": steak, "stock": 4})
    assert restocked["items"][0]["available"] is True and restocked["items"][0]["low_stock_at"] is None


async def test_uncounted_items_are_not_touched_by_orders(server: str, db: Database, kit: VenueKit) -> None:
    ids = await seed(server, kit)
    before = await snapshot(db, kit.venue_id)
    await ok(server, kit.token("staff"), "test.menu_take_stock", {"item_id": ids["item"], "quantity": 999})
    after = await snapshot(db, kit.venue_id)
    assert after["menu"] == before["menu"] and [n for n, _ in after["events"][len(before["events"]):]] == ["test.order_line"]
    unknown = await post(server, kit.token("staff"), "test.menu_take_stock", {"item_id": new_id(), "quantity": 1})
    assert unknown["error"]["code"] == "not_found"
    zero = await post(server, kit.token("staff"), "test.menu_take_stock", {"item_id": ids["item"], "quantity": 0})
    assert zero["error"]["code"] == "validation_error"


async def test_parallel_orders_never_oversell_while_the_menu_is_edited(server: str, db: Database, kit: VenueKit) -> None:
    ids = await seed(server, kit)
    steak, manager = ids["item"], kit.token("manager")
    await ok(server, manager, "menu.set_stock", {"item_id": steak, "stock": 10})
    replies: list[dict[str, Any]] = []

    async def order(i: int) -> None:
        replies.append(await post(server, kit.token("staff"), "test.menu_take_stock",
                                  {"item_id": steak, "quantity": 1, "order": f"order-{i}"}))

    async def edit(i: int) -> None:
        assert (await post(server, manager, "menu.upsert_item", {"id": steak, "description": f"edit {i}"}))["ok"]

    async with trio.open_nursery() as nursery:
        for i in range(25):
            nursery.start_soon(order, i)
            if i % 5 == 0:
                nursery.start_soon(edit, i)
    codes = sorted("ok" if r["ok"] else r["error"]["code"] for r in replies)
    assert codes == ["conflict"] * 15 + ["ok"] * 10
    after = await snapshot(db, kit.venue_id)
    (item,) = after["menu"]["items"]
    assert item["stock"] == 0 and item["available"] is False
    # it went off exactly once, whatever the interleaving, and every edit landed
    seen = [d["items"][0] for n, d in after["events"] if n == "menu.updated" and d["items"]]
    went_off = [b for a, b in zip(seen, seen[1:]) if a["available"] and not b["available"]]
    assert len(went_off) == 1 and went_off[0]["stock"] == 0
    assert {d["description"] for d in seen} >= {f"edit {i}" for i in range(0, 25, 5)}
