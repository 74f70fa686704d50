"""Orders end to end through a real server: a dinner service, bad input, approvals, tables."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from fynlo.db import Database
from tests.support import VenueKit, new_id, ref, with_menu
from tests.test_commands import post


@pytest.fixture
async def venue(db: Database, kit: VenueKit) -> VenueKit:
    return await with_menu(db, kit)


class Waiter:
    """Sends order commands over HTTP as one member of staff."""

    def __init__(self, server: str, kit: VenueKit, role: str = "staff") -> None:
        self.server, self.kit, self.token = server, kit, kit.token(role)

    async def __call__(self, name: str, **args: Any) -> dict[str, Any]:
        return await post(self.server, self.token, name, args)

    async def ok(self, name: str, **args: Any) -> Any:
        reply = await self(name, **args)
        assert reply["ok"], reply
        return reply["result"]

    async def open(self, table: str | None = "1", **args: Any) -> str:
        order_id = new_id()
        extra = {"table": ref(self.kit, "table", table)} if table else {"kind": "takeaway"}
        await self.ok("order.open", order_id=order_id, **extra, **args)
        return order_id

    async def add(self, order_id: str, item: str, *options: tuple[str, str], **args: Any) -> dict[str, Any]:
        return await self.ok("order.add_item", order_id=order_id, line_id=new_id(), item_id=ref(self.kit, "item", item),
                             modifier_option_ids=[ref(self.kit, "option", g, o) for g, o in options], **args)


async def events(db: Database, venue_id: str, after: int = 0) -> list[dict[str, Any]]:
    rows = await db.run(lambda c: c.execute(
        "SELECT seq, name, data FROM events WHERE venue_id = %s AND seq > %s ORDER BY seq", (venue_id, after)).fetchall())
    return [dict(r) for r in rows]


async def last_seq(db: Database, venue_id: str) -> int:
    return (await db.run(lambda c: c.execute("SELECT last_seq FROM venues WHERE id = %s", (venue_id,)).fetchone()))["last_seq"]


async def test_a_dinner_service(server: str, db: Database, venue: VenueKit) -> None:
    w = Waiter(server, venue)
    order_id = await w.open("1", covers=2)
    await w.add(order_id, "Scotch egg", course=1, seat=1)
    await w.add(order_id, "8oz sirloin steak", ("Cooking", "Medium rare"), ("Sauce", "Peppercorn"), course=2, seat=1,
                note="no salt")
    await w.add(order_id, "Chips", course=2, seat=2)
    await w.add(order_id, "Pint of IPA", seat=2)
    order = await w.add(order_id, "Sticky toffee pudding", ("Ice cream", "Vanilla"), course=3, seat=2)
    # 750 + (2600 + 250) + 450 + 650 + 750 = 5450, VAT 20% inside: 5450 * 20 / 120 = 908.33 -> 908
    assert order["totals"]["total"] == 5450
    assert order["totals"]["vat"] == [{"rate": "20.00", "gross": 5450, "net": 4542, "vat": 908}]
    assert order["number"] >= 1 and order["kitchen_status"] == "none"

    sent = await w.ok("order.send", order_id=order_id)
    tickets = {(t["station"], t["course"]): t for t in sent["tickets"]}
    assert set(tickets) == {("kitchen", 1), ("kitchen", 2), ("kitchen", 3), ("bar", 1)}
    assert tickets["kitchen", 1]["status"] == "sent" and tickets["bar", 1]["status"] == "sent"
    assert tickets["kitchen", 2]["status"] == "held" and tickets["kitchen", 3]["status"] == "held"
    steak = next(ln for ln in tickets["kitchen", 2]["lines"] if ln["name"] == "8oz sirloin steak")
    assert steak["modifiers"] == ["Medium rare", "Peppercorn"] and steak["note"] == "no salt" and steak["seat"] == 1
    assert "egg" in tickets["kitchen", 1]["lines"][0]["allergens"]
    assert sent["kitchen_status"] == "sent" and all(ln["state"] == "sent" for ln in sent["lines"])

    jobs = await db.run(lambda c: c.execute(
        "SELECT kind, station, document FROM print_jobs WHERE order_id = %s ORDER BY created_at", (order_id,)).fetchall())
    assert sorted((j["kind"], j["station"]) for j in jobs) == [("kitchen_ticket", "bar"), ("kitchen_ticket", "kitchen")]

    fired = await w.ok("order.fire_course", order_id=order_id, course=2)
    assert {(t["course"], t["status"]) for t in fired["tickets"] if t["station"] == "kitchen"} == \
        {(1, "sent"), (2, "sent"), (3, "held")}
    chef = Waiter(server, venue, "kitchen")
    first = tickets["kitchen", 1]["ticket_id"]
    started = await chef.ok("kitchen.start", order_id=order_id, ticket_id=first)
    assert started["kitchen_status"] == "preparing"
    for t in fired["tickets"]:
        if t["status"] == "sent" and t["ticket_id"] != first:
            await chef.ok("kitchen.bump", order_id=order_id, ticket_id=t["ticket_id"])
    bumped = await chef.ok("kitchen.bump", order_id=order_id, ticket_id=first)
    assert bumped["kitchen_status"] == "ready"
    recalled = await chef.ok("kitchen.recall", order_id=order_id, ticket_id=first)
    assert recalled["kitchen_status"] == "preparing"
    assert (await chef("kitchen.recall", order_id=order_id, ticket_id=first))["error"]["code"] == "conflict"

    bill = await w.ok("order.print_bill", order_id=order_id)
    job = await db.run(lambda c: c.execute("SELECT kind, station, document FROM print_jobs WHERE id = %s",
                                           (bill["job_id"],)).fetchone())
    assert job["kind"] == "bill" and job["station"] == "receipt"
    assert job["document"]["order"]["totals"]["total"] == 5450 and job["document"]["table"] == "1"
    names = [e["name"] for e in await events(db, venue.venue_id)]
    assert "order.opened" in names and "order.sent" in names and "kitchen.ticket" in names
    assert names.count("job.queued") == 4  # bar + kitchen c1, kitchen c2 when fired, and the bill


async def test_every_terminal_sees_each_change(server: str, venue: VenueKit) -> None:
    from sim.client import TerminalClient

    w = Waiter(server, venue)
    order_id = await w.open("2")
    async with TerminalClient.connect(server, venue.token("staff")) as a, \
            TerminalClient.connect(server, venue.token("kitchen")) as b:
        result = await w.add(order_id, "Chips")
        for t in (a, b):
            event = await t.next_event()
            assert event["name"] == "order.updated" and event["data"] == result


async def test_twenty_editors_on_one_order_lose_nothing(server: str, db: Database, venue: VenueKit) -> None:
    w = Waiter(server, venue)
    order_id = await w.open("3")
    line_ids = [[new_id() for _ in range(5)] for _ in range(20)]

    async def editor(ids: list[str]) -> None:
        for line_id in ids:
            await w.ok("order.add_item", order_id=order_id, line_id=line_id, item_id=ref(venue, "item", "Espresso"))

    async with trio.open_nursery() as nursery:
        for ids in line_ids:
            nursery.start_soon(editor, ids)
    order = await w.ok("order.add_item", order_id=order_id, line_id=new_id(), item_id=ref(venue, "item", "Chips"))
    on_order = [ln["line_id"] for ln in order["lines"]]
    expected = [line_id for ids in line_ids for line_id in ids]
    assert sorted(on_order[:-1]) == sorted(expected) and len(set(on_order)) == 101
    assert order["version"] == 102  # opened, then 101 additions, each exactly once
    stored = await db.run(lambda c: c.execute("SELECT count(*) AS n FROM order_lines WHERE order_id = %s",
                                              (order_id,)).fetchone())
    assert stored["n"] == 101


async def test_order_numbers_count_up_per_venue(server: str, db: Database, venue: VenueKit, settings) -> None:  # type: ignore[no-untyped-def]
    from tests.support import make_venue

    w = Waiter(server, venue)
    numbers = [(await w.ok("order.open", order_id=new_id(), kind="takeaway"))["number"] for _ in range(3)]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]
    other = await with_menu(db, await make_venue(db, settings, "Elsewhere"))
    assert (await Waiter(server, other).ok("order.open", order_id=new_id(), kind="takeaway"))["number"] == 1


def test_business_day_starts_at_the_venue_setting() -> None:
    from datetime import date, datetime, timezone

    from fynlo.orders.repo import business_date

    late = datetime(2026, 7, 1, 2, 30, tzinfo=timezone.utc)  # 03:30 in London (BST)
    assert business_date(late, "Europe/London", "04:00") == date(2026, 6, 30)
    assert business_date(late, "Europe/London", "03:00") == date(2026, 7, 1)
    assert business_date(datetime(2026, 1, 1, 4, 0, tzinfo=timezone.utc), "Europe/London", "04:00") == date(2026, 1, 1)


async def test_one_open_order_per_table_unless_the_venue_allows_checks(server: str, venue: VenueKit) -> None:
    w = Waiter(server, venue)
    await w.open("4")
    taken = await w("order.open", order_id=new_id(), table=ref(venue, "table", "4"))
    assert taken["error"]["code"] == "conflict" and taken["error"]["details"]["reason"] == "table_occupied"
    manager = Waiter(server, venue, "manager")
    await manager.ok("venue.update", allow_multiple_checks=True)
    assert await w.open("4")
    missing = await w("order.open", order_id=new_id(), table=new_id())
    assert missing["error"]["code"] == "not_found"


async def test_service_charge_comes_with_a_large_party(server: str, venue: VenueKit) -> None:
    manager = Waiter(server, venue, "manager")
    await manager.ok("venue.update", service_charge={"rate": "12.50", "auto_min_covers": 6, "mandatory": False})
    w = Waiter(server, venue)
    small = await w.add(await w.open("5", covers=2), "Chips")
    big = await w.add(await w.open("6", covers=8), "Fish & chips")
    assert small["service_charge"] is None and small["totals"]["service_charge"] == 0
    # 1650 * 12.5% = 206.25 -> 206, outside VAT
    assert big["totals"]["service_charge"] == 206 and big["totals"]["total"] == 1856
    assert big["totals"]["vat_total"] == 275  # 1650 * 20/120


async def test_void_after_sending_needs_a_manager_and_reaches_the_kitchen(server: str, db: Database, venue: VenueKit) -> None:
    w = Waiter(server, venue)
    order_id = await w.open("7")
    line = (await w.add(order_id, "Fish & chips"))["lines"][0]["line_id"]
    await w.ok("order.send", order_id=order_id)
    assert (await w("order.remove_item", order_id=order_id, line_id=line))["error"]["code"] == "conflict"
    before = await last_seq(db, venue.venue_id)
    refused = await w("order.void_item", order_id=order_id, line_id=line, reason="dropped")
    assert refused["error"]["code"] == "approval_required"
    wrong = await w("order.void_item", order_id=order_id, line_id=line, reason="dropped", approval={"pin": "0000"})
    assert wrong["error"]["code"] == "approval_required" and wrong["error"]["details"]["reason"] == "invalid_pin"
    staff_pin = await w("order.void_item", order_id=order_id, line_id=line, reason="dropped",
                        approval={"pin": venue.people["staff"].pin})
    assert staff_pin["error"]["code"] == "forbidden"
    assert await last_seq(db, venue.venue_id) == before  # nothing written by the refusals
    voided = await w.ok("order.void_item", order_id=order_id, line_id=line, reason="dropped",
                        approval={"pin": venue.people["manager"].pin})
    assert voided["lines"][0]["state"] == "void" and voided["totals"]["total"] == 0
    void_ticket = [t for t in voided["tickets"] if t["kind"] == "void"]
    assert len(void_ticket) == 1 and void_ticket[0]["lines"][0]["name"] == "Fish & chips"
    names = [e["name"] for e in await events(db, venue.venue_id, before)]
    assert names[:1] == ["auth.approval_granted"] and "job.queued" in names
    # a manager voids without a PIN
    other = await w.add(order_id, "Chips")
    await w.ok("order.send", order_id=order_id)
    chips = next(ln["line_id"] for ln in other["lines"] if ln["name"] == "Chips")
    assert (await Waiter(server, venue, "manager")("order.void_item", order_id=order_id, line_id=chips, reason="cold"))["ok"]


async def test_discounts_and_their_approval_limit(server: str, venue: VenueKit) -> None:
    w = Waiter(server, venue)
    order_id = await w.open("8")
    order = await w.add(order_id, "Fish & chips")
    line = order["lines"][0]["line_id"]
    small = await w.ok("order.apply_discount", order_id=order_id, line_id=line, kind="percent", value="10.00",
                       reason="regular")
    assert small["totals"]["discounts"] == 165 and small["totals"]["total"] == 1485
    big = await w("order.apply_discount", order_id=order_id, line_id=line, kind="percent", value="50.00", reason="x")
    assert big["error"]["code"] == "approval_required"
    approved = await w.ok("order.apply_discount", order_id=order_id, line_id=line, kind="percent", value="50.00",
                          reason="complaint", approval={"pin": venue.people["manager"].pin})
    assert approved["totals"]["total"] == 825
    whole = await w.ok("order.apply_discount", order_id=order_id, kind="amount", value=25, reason="loyalty")
    assert whole["totals"]["total"] == 800


async def test_gratuity_is_part_of_the_total_outside_vat(server: str, venue: VenueKit) -> None:
    w = Waiter(server, venue)
    order_id = await w.open("9")
    await w.add(order_id, "Fish & chips")
    tipped = await w.ok("order.set_gratuity", order_id=order_id, percent="10.00")
    assert tipped["totals"]["gratuity"] == 165 and tipped["totals"]["total"] == 1815 and tipped["totals"]["vat_total"] == 275
    cleared = await w.ok("order.set_gratuity", order_id=order_id)
    assert cleared["totals"]["total"] == 1650


async def test_transfer_and_merge(server: str, db: Database, venue: VenueKit) -> None:
    w = Waiter(server, venue)
    a = await w.open("T1")
    b = await w.open("T2")
    await w.add(a, "Gin", ("Mixer", "Tonic"))
    await w.add(b, "Pint of lager")
    moved = await w.ok("order.transfer", order_id=a, table=ref(venue, "table", "T3"))
    assert moved["table_id"] == ref(venue, "table", "T3")
    assert (await w("order.transfer", order_id=b, table=ref(venue, "table", "T3")))["error"]["code"] == "conflict"
    merged = await w.ok("order.merge", order_id=a, from_order_id=b)
    assert sorted(ln["name"] for ln in merged["lines"]) == ["Gin", "Pint of lager"]
    assert merged["totals"]["total"] == 650 + 620
    # the merged order's own actor learns it is closed
    before = await footprint(db, venue.venue_id, b)
    closed = await w("order.add_item", order_id=b, line_id=new_id(), item_id=ref(venue, "item", "Chips"))
    assert closed["error"]["code"] == "conflict" and closed["error"]["details"]["reason"] == "order_closed"
    assert await footprint(db, venue.venue_id, b) == before


async def test_split_by_lines_and_by_seats_adds_up(server: str, db: Database, venue: VenueKit) -> None:
    w = Waiter(server, venue)
    order_id = await w.open("10", covers=3)
    wine = (await w.add(order_id, "House red", ("Size", "Bottle")))["lines"][-1]["line_id"]  # 750 + 1600 = 2350, shared
    fish = (await w.add(order_id, "Fish & chips", seat=1))["lines"][-1]["line_id"]
    pie = (await w.add(order_id, "Pie of the day", seat=2))["lines"][-1]["line_id"]
    await w.ok("order.apply_discount", order_id=order_id, kind="percent", value="10.00", reason="birthday")
    before = await w.ok("order.set_gratuity", order_id=order_id, percent="12.50")
    part_a, part_b = new_id(), new_id()
    result = await w.ok("order.split", order_id=order_id, parts=[
        {"order_id": part_a, "line_ids": [fish, wine]}, {"order_id": part_b, "line_ids": [pie, wine]}])
    orders = [result["order"], *result["created"]]
    for figure in ("total", "gratuity", "after_discounts"):
        assert sum(o["totals"][figure] for o in orders) == before["totals"][figure], figure
    stored = await db.run(lambda c: c.execute("SELECT sum(total) AS s FROM orders WHERE id = ANY(%s::uuid[])",
                                              ([o["order_id"] for o in orders],)).fetchone())
    assert stored["s"] == before["totals"]["total"]
    assert result["order"]["lines"] == [] and {o["order_id"] for o in result["created"]} == {part_a, part_b}
    shares = [ln for o in result["created"] for ln in o["lines"] if ln["name"] == "House red"]
    assert sorted(ln["gross"] for ln in shares) == [1175, 1175]
    # by seats: lines without a seat are shared by every part
    by_seat = await w.open("1")
    await w.add(by_seat, "Chips")
    await w.add(by_seat, "Flat white", ("Milk", "Oat"), seat=1)
    await w.add(by_seat, "Cappuccino", ("Milk", "Whole"), seat=2)
    seats = await w.ok("order.split", order_id=by_seat, parts=[
        {"order_id": new_id(), "seats": [1]}, {"order_id": new_id(), "seats": [2]}])
    totals = sorted(o["totals"]["total"] for o in seats["created"])
    assert totals == [360 + 225, 400 + 225]


async def footprint(db: Database, venue_id: str, order_id: str) -> dict[str, Any]:
    """What a refused command must leave as it was: the venue's events, the order's row, its lines,
    tickets and print jobs, and the stock counts."""
    def read(c: Any) -> dict[str, Any]:
        def rows(sql: str, *args: Any) -> list[dict[str, Any]]:
            return [dict(r) for r in c.execute(sql, args).fetchall()]
        return {
            "last_seq": rows("SELECT last_seq FROM venues WHERE id = %s", venue_id),
            "order": rows("SELECT version, status, payment_status, kitchen_status, total, paid, discount, table_id"
                          " FROM orders WHERE id = %s", order_id),
            "lines": rows("SELECT id, quantity, state, discount, modifiers FROM order_lines WHERE order_id = %s"
                          " ORDER BY position", order_id),
            "tickets": rows("SELECT id, status FROM kitchen_tickets WHERE order_id = %s ORDER BY id", order_id),
            "jobs": rows("SELECT id FROM print_jobs WHERE venue_id = %s ORDER BY id", venue_id),
            "orders": rows("SELECT count(*) FROM orders WHERE venue_id = %s", venue_id),
            "stock": rows("SELECT id, available, stock FROM menu_items WHERE venue_id = %s ORDER BY id", venue_id),
        }
    return await db.run(read)


BAD_INPUT = ["unknown item", "86'd item", "too many modifiers", "missing required modifier", "quantity 0",
             "quantity -1", "quantity 1000 added", "quantity 0 updated", "quantity 1000 updated",
             "discount over 100%", "discount larger than the line", "nothing new to send", "send with no lines",
             "split foreign lines", "stale version", "edit a completed order", "edit a cancelled order"]


@pytest.mark.parametrize("case", BAD_INPUT)
async def test_bad_input_changes_nothing(server: str, db: Database, venue: VenueKit, case: str) -> None:
    w = Waiter(server, venue)
    order_id = await w.open(None)
    if case == "edit a completed order":
        await w.ok("order.complete", order_id=order_id)  # nothing to pay
    if case == "edit a cancelled order":
        await w.ok("order.cancel", order_id=order_id, reason="walked out", approval={"pin": venue.people["manager"].pin})
    line = new_id()  # not on the order, unless the case adds it
    if case not in ("send with no lines", "edit a completed order", "edit a cancelled order"):
        line = (await w.add(order_id, "Chips"))["lines"][0]["line_id"]
    if case == "86'd item":
        await Waiter(server, venue, "kitchen").ok("menu.set_available", item_id=ref(venue, "item", "Eton mess"),
                                                  available=False)
    if case == "nothing new to send":
        await w.ok("order.send", order_id=order_id)
    before = await footprint(db, venue.venue_id, order_id)
    steak, chips = ref(venue, "item", "8oz sirloin steak"), ref(venue, "item", "Chips")

    def add(**args: Any) -> tuple[str, dict[str, Any]]:
        return "order.add_item", {"line_id": new_id(), "item_id": chips, **args}

    attempts: dict[str, tuple[tuple[str, dict[str, Any]], str, str | None]] = {
        "unknown item": (add(item_id=new_id()), "not_found", None),
        "86'd item": (add(item_id=ref(venue, "item", "Eton mess")), "conflict", "item_unavailable"),
        "too many modifiers": (add(item_id=steak, modifier_option_ids=[
            ref(venue, "option", "Cooking", "Rare"), ref(venue, "option", "Cooking", "Medium")]), "validation_error", None),
        "missing required modifier": (add(item_id=steak), "validation_error", None),
        "quantity 0": (add(quantity=0), "validation_error", None),
        "quantity -1": (add(quantity=-1), "validation_error", None),
        "quantity 1000 added": (add(quantity=1000), "validation_error", None),
        "quantity 0 updated": (("order.update_item", {"line_id": line, "quantity": 0}), "validation_error", None),
        "quantity 1000 updated": (("order.update_item", {"line_id": line, "quantity": 1000}), "validation_error", None),
        "discount over 100%": (("order.apply_discount", {"line_id": line, "kind": "percent", "value": "150.00",
                                                         "reason": "x"}), "validation_error", None),
        "discount larger than the line": (("order.apply_discount", {"line_id": line, "kind": "amount", "value": 451,
                                                                    "reason": "x"}), "validation_error", None),
        "nothing new to send": (("order.send", {}), "conflict", "nothing_to_send"),
        "send with no lines": (("order.send", {}), "conflict", "nothing_to_send"),
        "split foreign lines": (("order.split", {"parts": [{"order_id": new_id(), "line_ids": [new_id()]}]}),
                                "validation_error", None),
        "stale version": (add(expected_version=1), "conflict", "stale_version"),
        "edit a completed order": (add(), "conflict", "order_closed"),
        "edit a cancelled order": (add(), "conflict", "order_closed"),
    }
    (name, args), code, reason = attempts[case]
    reply = await w(name, order_id=order_id, **args)
    assert reply["ok"] is False and reply["error"]["code"] == code, reply
    if reason is not None:
        assert reply["error"]["details"]["reason"] == reason, reply
    assert await footprint(db, venue.venue_id, order_id) == before


async def test_closed_orders_cannot_be_edited(server: str, venue: VenueKit) -> None:
    w = Waiter(server, venue)
    order_id = await w.open(None)
    await w.add(order_id, "Chips")
    assert (await w("order.complete", order_id=order_id))["error"]["details"]["reason"] == "not_paid"
    assert (await w("order.cancel", order_id=order_id, reason="walked out"))["error"]["code"] == "approval_required"
    cancelled = await w.ok("order.cancel", order_id=order_id, reason="walked out", approval={"pin": venue.people["manager"].pin})
    assert cancelled["status"] == "cancelled"
    for name, args in [("order.add_item", {"line_id": new_id(), "item_id": ref(venue, "item", "Chips")}),
                       ("order.send", {}), ("order.cancel", {"reason": "again"})]:
        reply = await Waiter(server, venue, "manager")(name, order_id=order_id, **args)
        assert reply["error"]["code"] == "conflict" and reply["error"]["details"]["reason"] == "order_closed"
    empty = await w.open(None)
    assert (await w.ok("order.complete", order_id=empty))["status"] == "completed"  # nothing to pay


async def test_stock_counts_down_and_86s_the_item(server: str, venue: VenueKit) -> None:
    manager = Waiter(server, venue, "manager")
    pudding = ref(venue, "item", "Sticky toffee pudding")
    await manager.ok("menu.set_stock", item_id=pudding, stock=3, low_stock_at=1)
    w = Waiter(server, venue)
    order_id = await w.open(None)
    short = await w("order.add_item", order_id=order_id, line_id=new_id(), item_id=pudding, quantity=4)
    assert short["error"]["code"] == "conflict"
    await w.ok("order.add_item", order_id=order_id, line_id=new_id(), item_id=pudding, quantity=3)
    menu = await w.ok("menu.get")
    item = next(i for i in menu["items"] if i["id"] == pudding)
    assert item["stock"] == 0 and item["available"] is False
    gone = await w("order.add_item", order_id=order_id, line_id=new_id(), item_id=pudding)
    assert gone["error"]["code"] == "conflict"


async def test_reads_for_terminals_and_kitchen_screens(server: str, db: Database, venue: VenueKit, settings) -> None:  # type: ignore[no-untyped-def]
    from tests.support import make_venue

    w = Waiter(server, venue)
    order_id = await w.open("2")
    await w.add(order_id, "Scotch egg")
    await w.add(order_id, "Pint of cider")
    await w.ok("order.send", order_id=order_id)
    chef = Waiter(server, venue, "kitchen")
    assert (await chef.ok("order.get", order_id=order_id))["order_id"] == order_id
    assert order_id in [o["order_id"] for o in (await chef.ok("order.list"))["orders"]]
    kitchen_only = (await chef.ok("kitchen.get", station="kitchen"))["tickets"]
    assert [t["lines"][0]["name"] for t in kitchen_only if t["order_id"] == order_id] == ["Scotch egg"]
    everything = (await chef.ok("kitchen.get"))["tickets"]
    assert {t["station"] for t in everything if t["order_id"] == order_id} == {"kitchen", "bar"}
    stranger = await make_venue(db, settings, "Stranger")
    assert (await Waiter(server, stranger)("order.get", order_id=order_id))["error"]["code"] == "not_found"
    assert order_id not in [o["order_id"] for o in (await Waiter(server, stranger).ok("order.list"))["orders"]]


async def test_tables_and_takeaways_opened_at_once_never_deadlock(server: str, venue: VenueKit) -> None:
    w = Waiter(server, venue)
    tables = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "T1", "T2", "T3", "T4", "B1", "B2"]
    replies: list[dict[str, Any]] = []

    async def dine_in(table: str) -> None:
        replies.append(await w("order.open", order_id=new_id(), table=ref(venue, "table", table), covers=2))

    async def takeaway() -> None:
        replies.append(await w("order.open", order_id=new_id(), kind="takeaway"))

    async with trio.open_nursery() as nursery:
        for table in tables:
            nursery.start_soon(dine_in, table)
            nursery.start_soon(takeaway)
    assert [r for r in replies if not r["ok"]] == []
    numbers = sorted(r["result"]["number"] for r in replies)
    assert numbers == list(range(numbers[0], numbers[0] + 2 * len(tables)))


async def test_an_order_id_opened_again_is_a_conflict_or_a_replay_also_on_a_server_that_never_read_it(
        database_url: str, db: Database, venue: VenueKit) -> None:
    from tests.support import make_settings, running_server

    order_id, command_id = new_id(), new_id()
    args = {"order_id": order_id, "kind": "takeaway"}
    async with running_server(make_settings(), database_url) as server:
        first = await post(server, venue.token("staff"), "order.open", args, command_id)
        loaded = await post(server, venue.token("staff"), "order.open", args)  # its actor has it in memory
    assert first["ok"] and loaded["error"]["details"]["reason"] == "order_exists"
    before = await last_seq(db, venue.venue_id)
    async with running_server(make_settings(), database_url) as server:  # no actor has read the order here
        w = Waiter(server, venue)
        await w.open(None)  # the venue's row now in memory: the next commands go ahead of their first read
        assert (await post(server, w.token, "order.open", args, command_id)) == first          # a replay
        again = await post(server, w.token, "order.open", args)                                 # another command
        assert again["error"]["details"]["reason"] == "order_exists"
        assert (await w.ok("order.get", order_id=order_id))["number"] == first["result"]["number"]
    assert await last_seq(db, venue.venue_id) == before + 1  # only the other order's event
