"""More orders end to end through a real server and PostgreSQL: business-day numbering, kitchen
ticket times, eat-in and takeaway VAT, line updates and stock, mark_ready, expected_version,
menu availability on several terminals, and a line discount carried by a split."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fynlo.db import Database
from fynlo.orders.repo import business_date
from tests.support import VenueKit, new_id, ref
from tests.test_orders import Waiter, footprint


def _ticket(order: dict[str, Any], station: str, course: int) -> dict[str, Any]:
    (ticket,) = [t for t in order["tickets"] if t["station"] == station and t["course"] == course
                 and t["kind"] == "order"]
    return ticket


def _at(stamp: str | None) -> datetime:
    assert stamp is not None
    return datetime.fromisoformat(stamp)


async def _stock(db: Database, item_id: str) -> int | None:
    row = await db.run(lambda c: c.execute("SELECT stock FROM menu_items WHERE id = %s", (item_id,)).fetchone())
    return row["stock"]


async def test_order_numbers_restart_when_the_business_day_starts(server: str, db: Database,
                                                                   venue: VenueKit) -> None:
    # A zone where it is now about midday, so day starts two hours either side of the local time
    # never wrap past midnight and no boundary is near while the test runs.
    utc_now = (await db.run(lambda c: c.execute("SELECT now() AT TIME ZONE 'UTC' AS t").fetchone()))["t"]
    offset = 12 - utc_now.hour                                    # UTC+offset, -11..12
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    local = utc_now + timedelta(hours=offset)
    after_now = (local + timedelta(hours=2)).strftime("%H:%M")   # today's day has not started: yesterday's
    before_now = (local - timedelta(hours=2)).strftime("%H:%M")  # today's day has started
    today, yesterday = local.date(), local.date() - timedelta(days=1)

    manager, w = Waiter(server, venue, "manager"), Waiter(server, venue)
    await manager.ok("venue.update", timezone=zone, business_day_start=after_now)
    first = [await w.ok("order.open", order_id=new_id(), kind="takeaway") for _ in range(3)]
    assert [o["number"] for o in first] == [1, 2, 3]
    assert {o["business_date"] for o in first} == {yesterday.isoformat()}
    assert business_date(_at(first[0]["opened_at"]), zone, after_now) == yesterday

    await manager.ok("venue.update", business_day_start=before_now)
    fresh = await w.ok("order.open", order_id=new_id(), table=ref(venue, "table", "1"))
    assert fresh["number"] == 1 and fresh["business_date"] == today.isoformat()
    assert (await w.ok("order.open", order_id=new_id(), kind="takeaway"))["number"] == 2

    counters = await db.run(lambda c: c.execute(
        "SELECT business_date, last_number FROM order_counters WHERE venue_id = %s ORDER BY business_date",
        (venue.venue_id,)).fetchall())
    assert [(r["business_date"], r["last_number"]) for r in counters] == [(yesterday, 3), (today, 2)]
    stored = await db.run(lambda c: c.execute(
        "SELECT business_date, number FROM orders WHERE venue_id = %s ORDER BY opened_at",
        (venue.venue_id,)).fetchall())
    assert [(r["business_date"], r["number"]) for r in stored] == \
        [(yesterday, 1), (yesterday, 2), (yesterday, 3), (today, 1), (today, 2)]

    # back to yesterday's day: its count carries on where it stopped
    await manager.ok("venue.update", business_day_start=after_now)
    again = await w.ok("order.open", order_id=new_id(), kind="takeaway")
    assert again["number"] == 4 and again["business_date"] == yesterday.isoformat()


async def test_kitchen_ticket_times_and_status(server: str, db: Database, venue: VenueKit) -> None:
    w, chef = Waiter(server, venue), Waiter(server, venue, "kitchen")
    order_id = await w.open("2")
    await w.add(order_id, "Scotch egg", course=1)
    await w.add(order_id, "Fish & chips", course=2, seat=1)
    await w.add(order_id, "Pint of cider", course=1)
    sent = await w.ok("order.send", order_id=order_id)
    starter, main, drink = _ticket(sent, "kitchen", 1), _ticket(sent, "kitchen", 2), _ticket(sent, "bar", 1)
    assert (starter["status"], main["status"], drink["status"]) == ("sent", "held", "sent")
    assert starter["sent_at"] is not None and starter["fired_at"] == starter["sent_at"]
    assert drink["fired_at"] == drink["sent_at"] == starter["sent_at"]
    assert main["sent_at"] == starter["sent_at"] and main["fired_at"] is None
    assert all(t["started_at"] is None and t["bumped_at"] is None for t in (starter, main, drink))
    assert starter["lines"][0]["allergens"] == ["egg", "gluten", "mustard"]
    assert main["lines"][0]["allergens"] == ["fish", "gluten"] and main["lines"][0]["seat"] == 1
    assert drink["lines"][0]["allergens"] == ["sulphites"]
    assert sent["kitchen_status"] == "sent"

    fired = await w.ok("order.fire_course", order_id=order_id, course=2)
    main = _ticket(fired, "kitchen", 2)
    assert main["status"] == "sent" and main["sent_at"] == starter["sent_at"]
    assert _at(main["fired_at"]) > _at(main["sent_at"])
    assert _ticket(fired, "kitchen", 1)["fired_at"] == starter["fired_at"]  # firing course 2 leaves course 1
    assert fired["kitchen_status"] == "sent"

    ids = [starter["ticket_id"], main["ticket_id"], drink["ticket_id"]]
    statuses = []
    for ticket_id in ids:
        bumped = await chef.ok("kitchen.bump", order_id=order_id, ticket_id=ticket_id)
        statuses.append(bumped["kitchen_status"])
        t = next(t for t in bumped["tickets"] if t["ticket_id"] == ticket_id)
        assert t["status"] == "ready" and _at(t["bumped_at"]) >= _at(t["fired_at"])
    assert statuses == ["preparing", "preparing", "ready"]

    recalled = await chef.ok("kitchen.recall", order_id=order_id, ticket_id=main["ticket_id"])
    back = _ticket(recalled, "kitchen", 2)
    assert back["status"] == "preparing" and back["bumped_at"] is None and back["fired_at"] == main["fired_at"]
    assert recalled["kitchen_status"] == "preparing"
    rows = await db.run(lambda c: c.execute(
        "SELECT course, station, status, fired_at, bumped_at FROM kitchen_tickets WHERE order_id = %s"
        " ORDER BY station, course", (order_id,)).fetchall())
    assert [(r["station"], r["course"], r["status"], r["bumped_at"] is None) for r in rows] == \
        [("bar", 1, "ready", False), ("kitchen", 1, "ready", False), ("kitchen", 2, "preparing", True)]
    assert all(r["fired_at"] is not None for r in rows)
    assert (await w.ok("order.get", order_id=order_id))["kitchen_status"] == "preparing"


async def test_eat_in_and_takeaway_vat_bands(server: str, venue: VenueKit) -> None:
    # Scotch egg: 20% eaten in, 0% cold to take away; espresso: 20% either way
    w = Waiter(server, venue)
    dine_in = await w.open("3")
    await w.add(dine_in, "Scotch egg")
    eaten = await w.add(dine_in, "Espresso")
    takeaway = await w.open(None)
    await w.add(takeaway, "Scotch egg")
    taken = await w.add(takeaway, "Espresso")
    assert eaten["kind"] == "dine_in" and taken["kind"] == "takeaway"
    # 1030 at 20%: 1030 / 6 = 171.67 -> 172
    assert eaten["totals"]["vat"] == [{"rate": "20.00", "gross": 1030, "net": 858, "vat": 172}]
    assert eaten["totals"]["vat_total"] == 172 and eaten["totals"]["total"] == 1030
    # 750 at 0%, 280 at 20%: 280 / 6 = 46.67 -> 47
    assert taken["totals"]["vat"] == [{"rate": "0.00", "gross": 750, "net": 750, "vat": 0},
                                      {"rate": "20.00", "gross": 280, "net": 233, "vat": 47}]
    assert taken["totals"]["vat_total"] == 47 and taken["totals"]["total"] == 1030
    egg = next(t for t in taken["totals"]["lines"] if t["gross"] == 750)
    assert egg["vat_rate"] == "0.00" and egg["vat"] == 0


async def test_update_item_on_an_unsent_line_moves_stock(server: str, db: Database, venue: VenueKit) -> None:
    pudding = ref(venue, "item", "Sticky toffee pudding")
    await Waiter(server, venue, "manager").ok("menu.set_stock", item_id=pudding, stock=10)
    w = Waiter(server, venue)
    order_id = await w.open("4", covers=3)
    added = await w.add(order_id, "Sticky toffee pudding", ("Ice cream", "Vanilla"), quantity=2, seat=1)
    line_id = added["lines"][0]["line_id"]
    assert await _stock(db, pudding) == 8

    more = await w.ok("order.update_item", order_id=order_id, line_id=line_id, quantity=5, note="no sauce", seat=3)
    (line,) = more["lines"]
    assert (line["quantity"], line["note"], line["seat"], line["gross"], line["state"]) == \
        (5, "no sauce", 3, 3750, "unsent")
    assert [m["name"] for m in line["modifiers"]] == ["Vanilla"] and line["course"] == 1
    assert more["totals"]["total"] == 3750 and more["version"] == added["version"] + 1
    assert await _stock(db, pudding) == 5

    fewer = await w.ok("order.update_item", order_id=order_id, line_id=line_id, quantity=1, seat=None)
    (line,) = fewer["lines"]
    assert (line["quantity"], line["note"], line["seat"], line["gross"]) == (1, "no sauce", None, 750)
    assert await _stock(db, pudding) == 9
    menu = await w.ok("menu.get")
    assert next(i for i in menu["items"] if i["id"] == pudding)["stock"] == 9
    stored = await db.run(lambda c: c.execute("SELECT quantity, note, seat FROM order_lines WHERE id = %s",
                                              (line_id,)).fetchone())
    assert dict(stored) == {"quantity": 1, "note": "no sauce", "seat": None}


async def test_mark_ready_marks_fired_tickets_ready(server: str, db: Database, venue: VenueKit) -> None:
    w, chef = Waiter(server, venue), Waiter(server, venue, "kitchen")
    order_id = await w.open("5")
    await w.add(order_id, "Soup of the day", course=1)
    await w.add(order_id, "Pie of the day", course=2)
    await w.add(order_id, "Pint of lager", course=1)
    sent = await w.ok("order.send", order_id=order_id)
    await chef.ok("kitchen.start", order_id=order_id, ticket_id=_ticket(sent, "kitchen", 1)["ticket_id"])

    ready = await w.ok("order.mark_ready", order_id=order_id)
    assert ready["kitchen_status"] == "ready"
    soup, pie, lager = _ticket(ready, "kitchen", 1), _ticket(ready, "kitchen", 2), _ticket(ready, "bar", 1)
    assert (soup["status"], lager["status"]) == ("ready", "ready")
    assert soup["bumped_at"] is not None and soup["bumped_at"] == lager["bumped_at"]
    assert soup["started_at"] is not None and lager["started_at"] is None
    assert pie["status"] == "held" and pie["fired_at"] is None and pie["bumped_at"] is None  # not fired: not ready
    on_screen = (await chef.ok("kitchen.get"))["tickets"]
    assert [t for t in on_screen if t["order_id"] == order_id] == []
    again = await w("order.mark_ready", order_id=order_id)
    assert again["error"]["code"] == "conflict" and again["error"]["details"]["reason"] == "nothing_to_mark"

    fired = await w.ok("order.fire_course", order_id=order_id, course=2)
    assert fired["kitchen_status"] == "preparing"  # some ready, one waiting
    done = await w.ok("order.mark_ready", order_id=order_id)
    assert done["kitchen_status"] == "ready" and _ticket(done, "kitchen", 2)["status"] == "ready"
    rows = await db.run(lambda c: c.execute(
        "SELECT status, bumped_at FROM kitchen_tickets WHERE order_id = %s", (order_id,)).fetchall())
    assert len(rows) == 3 and all(r["status"] == "ready" and r["bumped_at"] is not None for r in rows)
    stored = await db.run(lambda c: c.execute("SELECT kitchen_status FROM orders WHERE id = %s",
                                              (order_id,)).fetchone())
    assert stored["kitchen_status"] == "ready"


async def test_expected_version_matching_is_accepted_and_stale_refused(server: str, db: Database,
                                                                        venue: VenueKit) -> None:
    w = Waiter(server, venue)
    order_id = await w.open("6")
    opened = await w.ok("order.get", order_id=order_id)
    assert opened["version"] == 1
    first = await w.add(order_id, "Chips", expected_version=1)
    assert first["version"] == 2 and len(first["lines"]) == 1
    second = await w.ok("order.set_gratuity", order_id=order_id, amount=100, expected_version=2)
    assert second["version"] == 3 and second["totals"]["total"] == 550

    before = await footprint(db, venue.venue_id, order_id)
    stale = await w("order.add_item", order_id=order_id, line_id=new_id(), item_id=ref(venue, "item", "Chips"),
                    expected_version=2)
    assert stale["ok"] is False and stale["error"]["code"] == "conflict"
    assert stale["error"]["details"] == {"reason": "stale_version", "expected": 2, "actual": 3}
    assert await footprint(db, venue.venue_id, order_id) == before
    assert (await w.ok("order.get", order_id=order_id))["version"] == 3


async def test_set_available_reaches_every_connected_terminal(server: str, venue: VenueKit) -> None:
    from sim.client import TerminalClient

    squid = ref(venue, "item", "Salt & pepper squid")
    async with TerminalClient.connect(server, venue.token("staff")) as a, \
            TerminalClient.connect(server, venue.token("kitchen")) as b, \
            TerminalClient.connect(server, venue.token("manager")) as c:
        off = await b.command_ok("menu.set_available", {"item_id": squid, "available": False})
        assert [(i["id"], i["available"]) for i in off["items"]] == [(squid, False)]
        seqs = set()
        for t in (a, b, c):
            event = await t.next_event()
            assert event["name"] == "menu.updated" and event["data"] == off
            seqs.add(event["seq"])
        assert len(seqs) == 1
        on = await Waiter(server, venue).ok("menu.set_available", item_id=squid, available=True)
        assert on["version"] == off["version"] + 1 and on["items"][0]["available"] is True
        for t in (a, b, c):
            event = await t.next_event()
            assert event["name"] == "menu.updated" and event["data"] == on
        assert not (a.anomalies or b.anomalies or c.anomalies)


async def test_a_line_discount_moves_with_its_line_on_split(server: str, db: Database, venue: VenueKit) -> None:
    w = Waiter(server, venue)
    order_id = await w.open("7", covers=2)
    fish = (await w.add(order_id, "Fish & chips", seat=1))["lines"][-1]["line_id"]
    chips = (await w.add(order_id, "Chips", seat=2))["lines"][-1]["line_id"]
    before = await w.ok("order.apply_discount", order_id=order_id, line_id=fish, kind="percent", value="10.00",
                        reason="regular")
    assert before["totals"]["total"] == 1650 + 450 - 165

    part = new_id()
    result = await w.ok("order.split", order_id=order_id, parts=[{"order_id": part, "line_ids": [fish]}])
    left, (moved,) = result["order"], result["created"]
    assert moved["order_id"] == part and [ln["line_id"] for ln in moved["lines"]] == [fish]
    assert moved["lines"][0]["discount"] == {"kind": "amount", "value": 165, "reason": "regular"}
    assert moved["totals"]["lines"][0]["line_discount"] == 165
    assert (moved["totals"]["subtotal"], moved["totals"]["discounts"], moved["totals"]["total"]) == (1650, 165, 1485)
    assert [ln["line_id"] for ln in left["lines"]] == [chips] and left["lines"][0]["discount"] is None
    assert (left["totals"]["discounts"], left["totals"]["total"]) == (0, 450)
    for figure in ("subtotal", "discounts", "total"):
        assert left["totals"][figure] + moved["totals"][figure] == before["totals"][figure], figure
    stored = await db.run(lambda c: c.execute(
        "SELECT o.id, o.total, l.discount FROM order_lines l JOIN orders o ON o.id = l.order_id"
        " WHERE l.id = %s", (fish,)).fetchone())
    assert (str(stored["id"]), stored["total"], stored["discount"]["value"]) == (part, 1485, 165)
    assert (await w.ok("order.get", order_id=part))["totals"]["total"] == 1485
