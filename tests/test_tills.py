"""Tills through a real server: float, cash movements, X and Z reports, blind close, the ledger."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from fynlo.db import Database
from fynlo.errors import Conflict
from fynlo.tills import ledger, reports
from tests.support import VenueKit, new_id, with_menu
from tests.test_commands import post
from tests.test_orders import Waiter, events, last_seq


async def ledger_count(db: Database, venue_id: str) -> int:
    row = await db.run(lambda c: c.execute("SELECT count(*) AS n FROM cash_ledger WHERE venue_id = %s",
                                           (venue_id,)).fetchone())
    return int(row["n"])


async def jobs(db: Database, venue_id: str, kind: str) -> list[dict[str, Any]]:
    rows = await db.run(lambda c: c.execute(
        "SELECT id, station, document FROM print_jobs WHERE venue_id = %s AND kind = %s ORDER BY created_at",
        (venue_id, kind)).fetchall())
    return [dict(r) for r in rows]


async def open_till(w: Waiter, float_: int, drawer: str = "main") -> str:
    till_id = new_id()
    await w.ok("till.open", till_id=till_id, float=float_, drawer=drawer)
    return till_id


async def test_a_cash_session_from_float_to_z(server: str, db: Database, kit: VenueKit) -> None:
    w = Waiter(server, kit)
    till_id = new_id()
    opened = await w.ok("till.open", till_id=till_id, float=10_000)
    assert opened["drawer"] == "main" and opened["status"] == "open" and opened["float"] == 10_000
    assert opened["terminal_id"] == kit.terminal_id and opened["opened_by"] == kit.people["staff"].staff_id
    kicks = await jobs(db, kit.venue_id, "drawer_kick")
    assert [(k["station"], k["document"]) for k in kicks] == [("main", {"drawer": "main", "reason": "till_open"})]
    assert str(kicks[0]["id"]) == opened["job_id"]

    moved = await w.ok("till.cash_movement", till_id=till_id, movement_id=new_id(), amount=500, reason="change")
    assert moved["kind"] == "paid_in" and moved["amount"] == 500
    out = await w.ok("till.cash_movement", till_id=till_id, movement_id=new_id(), amount=-200, reason="milk")
    assert out["kind"] == "paid_out"
    await w.ok("till.cash_movement", till_id=till_id, movement_id=new_id(), amount=-3000, reason="safe", kind="drop")
    await w.ok("till.cash_movement", till_id=till_id, movement_id=new_id(), amount=0, reason="float check",
               kind="no_sale")
    too_much = await w("till.cash_movement", till_id=till_id, movement_id=new_id(), amount=-7301, reason="x",
                       kind="drop")
    assert too_much["error"]["code"] == "conflict"
    assert too_much["error"]["details"] == {"reason": "not_enough_cash", "available": 7300, "requested": 7301}
    assert [k["document"]["reason"] for k in await jobs(db, kit.venue_id, "drawer_kick")] == \
        ["till_open", "paid_in", "paid_out", "drop", "no_sale"]

    x = await w.ok("till.x_report", till_id=till_id)
    assert x["report"] == "x" and x["z_number"] is None and x["float"] == 10_000
    assert {k: v for k, v in x["cash_movements"].items() if v["count"]} == {
        "paid_in": {"count": 1, "amount": 500}, "paid_out": {"count": 1, "amount": -200},
        "drop": {"count": 1, "amount": -3000}, "no_sale": {"count": 1, "amount": 0}}
    assert x["expected"] == 7300 and x["counted"] is None and x["variance"] is None
    assert x["tickets"] == 0 and x["payments"]["cash"] == {"count": 0, "amount": 0, "surcharge": 0}

    before = await last_seq(db, kit.venue_id)
    closed = await w.ok("till.close", till_id=till_id, counted=7250)
    assert (closed["z_number"], closed["expected"], closed["counted"], closed["variance"]) == (1, 7300, 7250, -50)
    assert closed["report"]["report"] == "z" and closed["report"]["variance"] == -50
    assert closed["report"]["closed_by"] == kit.people["staff"].staff_id
    names = [e["name"] for e in await events(db, kit.venue_id, before)]
    assert names == ["till.closed", "job.queued"]
    [z_job] = await jobs(db, kit.venue_id, "report")
    assert z_job["station"] == "receipt" and z_job["document"]["report"] == "z"
    assert z_job["document"]["expected"] == 7300 and str(z_job["id"]) == closed["job_id"]

    stored = await db.run(lambda c: c.execute("SELECT number, data FROM z_reports WHERE till_id = %s",
                                              (till_id,)).fetchone())
    assert stored["number"] == 1 and stored["data"] == closed["report"]
    assert await w.ok("till.x_report", till_id=till_id) == closed["report"]  # a closed till's report is its Z

    again = await w("till.close", till_id=till_id, counted=7250)
    assert again["error"]["code"] == "conflict" and again["error"]["details"]["reason"] == "till_not_open"
    late = await w("till.cash_movement", till_id=till_id, movement_id=new_id(), amount=100, reason="late")
    assert late["error"]["details"]["reason"] == "till_not_open"

    second = await open_till(w, 2000)  # the drawer is free again
    assert (await w.ok("till.close", till_id=second, counted=2000))["z_number"] == 2  # no gap for the refusals
    tills = await db.run(lambda c: c.execute("SELECT status, expected, counted, variance, z_number FROM tills"
                                             " WHERE venue_id = %s ORDER BY z_number", (kit.venue_id,)).fetchall())
    assert [tuple(t.values()) for t in tills] == [("closed", 7300, 7250, -50, 1), ("closed", 2000, 2000, 0, 2)]


async def test_the_z_and_the_ledger_cannot_be_changed(server: str, db: Database, kit: VenueKit) -> None:
    w = Waiter(server, kit)
    till_id = await open_till(w, 1000)
    await w.ok("till.close", till_id=till_id, counted=1000)
    for statement in ("UPDATE z_reports SET data = '{}' WHERE till_id = %s",
                      "DELETE FROM z_reports WHERE till_id = %s",
                      "UPDATE cash_ledger SET amount = 0 WHERE till_id = %s",
                      "DELETE FROM cash_ledger WHERE till_id = %s"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            await db.run(lambda c, sql=statement: c.execute(sql, (till_id,)))
    assert await ledger_count(db, kit.venue_id) == 1


async def test_one_open_till_per_drawer_and_ids_are_never_reused(server: str, db: Database, kit: VenueKit,
                                                                 settings) -> None:  # type: ignore[no-untyped-def]
    from tests.support import make_venue

    w = Waiter(server, kit, "manager")
    first = await open_till(w, 1000)
    clash = await w("till.open", till_id=new_id(), float=500)
    assert clash["error"]["code"] == "conflict"
    assert clash["error"]["details"] == {"reason": "drawer_has_open_till", "drawer": "main", "till_id": first}
    await open_till(w, 500, drawer="bar")
    reused = await w("till.open", till_id=first, float=0, drawer="terrace")
    assert reused["error"]["details"]["reason"] == "till_exists"
    assert await ledger_count(db, kit.venue_id) == 2

    other = Waiter(server, await make_venue(db, settings, "Elsewhere"))
    assert (await other("till.x_report", till_id=first))["error"]["code"] == "not_found"
    assert (await other("till.close", till_id=first, counted=0))["error"]["code"] == "not_found"
    assert (await other("till.open", till_id=first, float=0))["error"]["details"]["reason"] == "till_exists"
    kitchen = await Waiter(server, kit, "kitchen")("till.x_report", till_id=first)
    assert kitchen["error"]["code"] == "forbidden"


BAD = [
    ("till.cash_movement", {"amount": -100, "reason": "x", "kind": "paid_in"}),
    ("till.cash_movement", {"amount": 100, "reason": "x", "kind": "paid_out"}),
    ("till.cash_movement", {"amount": 100, "reason": "x", "kind": "drop"}),
    ("till.cash_movement", {"amount": 5, "reason": "x", "kind": "no_sale"}),
    ("till.cash_movement", {"amount": 0, "reason": "x"}),
    ("till.cash_movement", {"amount": 100}),
    ("till.cash_movement", {"amount": 100, "reason": ""}),
    ("till.cash_movement", {"amount": 100, "reason": "x" * 201}),
    ("till.cash_movement", {"amount": 1.5, "reason": "x"}),
    ("till.cash_movement", {"amount": "100", "reason": "x"}),
    ("till.cash_movement", {"amount": 100, "reason": "x", "kind": "sale"}),
    ("till.cash_movement", {"amount": 100, "reason": "x", "tip": 1}),
    ("till.open", {"float": -1}),
    ("till.open", {"float": 10.0}),
    ("till.open", {"float": 100, "drawer": ""}),
    ("till.close", {"counted": -1}),
    ("till.close", {}),
]


async def test_bad_input_is_refused_and_writes_nothing(server: str, db: Database, kit: VenueKit) -> None:
    w = Waiter(server, kit)
    till_id = await open_till(w, 1000)
    rows, seq = await ledger_count(db, kit.venue_id), await last_seq(db, kit.venue_id)
    for name, args in BAD:
        extra = {"till_id": till_id, "movement_id": new_id()} if name == "till.cash_movement" else {"till_id": till_id}
        if name == "till.open":
            extra = {"till_id": new_id()}
        reply = await w(name, **extra, **args)
        assert reply["error"]["code"] == "validation_error", (name, args, reply)
        assert reply["error"]["details"]["errors"], reply
    assert await ledger_count(db, kit.venue_id) == rows and await last_seq(db, kit.venue_id) == seq


async def test_a_movement_is_applied_once(server: str, db: Database, kit: VenueKit) -> None:
    w = Waiter(server, kit)
    till_id = await open_till(w, 1000)
    args = {"till_id": till_id, "movement_id": new_id(), "amount": 250, "reason": "tips jar"}
    command_id = str(uuid.uuid4())
    first = await post(server, kit.token("staff"), "till.cash_movement", args, command_id)
    assert first == await post(server, kit.token("staff"), "till.cash_movement", args, command_id)
    reused = await w("till.cash_movement", **args)
    assert reused["error"]["details"]["reason"] == "movement_exists"
    assert (await w.ok("till.x_report", till_id=till_id))["expected"] == 1250


async def test_blind_close_hides_expected_from_staff_only(server: str, db: Database, kit: VenueKit) -> None:
    await db.run(lambda c: c.execute(
        "UPDATE venues SET settings = settings || '{\"blind_close\": true}'::jsonb WHERE id = %s", (kit.venue_id,)))
    staff, manager = Waiter(server, kit), Waiter(server, kit, "manager")
    till_id = await open_till(staff, 3000)
    await staff.ok("till.cash_movement", till_id=till_id, movement_id=new_id(), amount=-500, reason="window cleaner")
    x = await staff.ok("till.x_report", till_id=till_id)
    assert "expected" not in x and "variance" not in x and x["float"] == 3000
    assert (await manager.ok("till.x_report", till_id=till_id))["expected"] == 2500

    before = await last_seq(db, kit.venue_id)
    closed = await staff.ok("till.close", till_id=till_id, counted=2400)
    assert closed["counted"] == 2400 and closed["z_number"] == 1
    assert not {"expected", "variance"} & (set(closed) | set(closed["report"]))
    [event] = [e for e in await events(db, kit.venue_id, before) if e["name"] == "till.closed"]
    assert "expected" not in event["data"] and "variance" not in event["data"]
    [z_job] = await jobs(db, kit.venue_id, "report")
    assert "expected" not in z_job["document"]
    stored = await db.run(lambda c: c.execute("SELECT data FROM z_reports WHERE till_id = %s", (till_id,)).fetchone())
    assert (stored["data"]["expected"], stored["data"]["variance"]) == (2500, -100)
    seen = await manager.ok("till.x_report", till_id=till_id)
    assert (seen["expected"], seen["variance"]) == (2500, -100)
    assert "expected" not in await staff.ok("till.x_report", till_id=till_id)
    managed = await manager.ok("till.close", till_id=await open_till(manager, 100), counted=100)
    assert managed["expected"] == 100 and managed["variance"] == 0


# Stand-ins for the payment commands (payment.cash, card capture, payment.refund), which are
# not ours: each writes the rows those commands write, through the same ledger API, so the
# report's payment sections can be checked before payments land.

async def stand_in_payment(db: Database, kit: VenueKit, till_id: str, order_id: str, method: str, amount: int,
                           tip: int = 0) -> str:
    payment_id = new_id()

    def work(conn: Any) -> None:
        ledger.lock_open_till(conn, kit.venue_id, till_id)
        conn.execute(
            "INSERT INTO payments (id, venue_id, order_id, method, status, amount, tip, captured, till_id,"
            " settled_at) VALUES (%s, %s, %s, %s, 'succeeded', %s, %s, %s, %s, clock_timestamp())",
            (payment_id, kit.venue_id, order_id, method, amount, tip, amount + tip, till_id))
        if method == "cash":
            ledger.append(conn, kit.venue_id, till_id, "sale", amount, payment_id=payment_id)
        conn.execute("UPDATE orders SET paid = paid + %s, version = version + 1, payment_status ="
                     " CASE WHEN paid + %s >= total THEN 'paid' ELSE 'part_paid' END WHERE id = %s",
                     (amount, amount, order_id))

    await db.run(work)
    return payment_id


async def stand_in_cash_refund(db: Database, kit: VenueKit, till_id: str, order_id: str, payment_id: str,
                               amount: int) -> None:
    def work(conn: Any) -> None:
        refund_id = new_id()
        conn.execute("INSERT INTO refunds (id, venue_id, payment_id, order_id, amount, status, reason, till_id)"
                     " VALUES (%s, %s, %s, %s, %s, 'succeeded', 'cold', %s)",
                     (refund_id, kit.venue_id, payment_id, order_id, amount, till_id))
        conn.execute("UPDATE payments SET refunded = refunded + %s WHERE id = %s", (amount, payment_id))
        conn.execute("UPDATE orders SET payment_status = 'part_refunded', version = version + 1 WHERE id = %s",
                     (order_id,))
        ledger.take_cash(conn, kit.venue_id, till_id, "refund", amount, refund_id=refund_id)

    await db.run(work)


async def test_report_attributes_sales_payments_and_refunds(server: str, db: Database, kit: VenueKit) -> None:
    venue = await with_menu(db, kit)
    w, manager = Waiter(server, venue), Waiter(server, venue, "manager")
    await manager.ok("venue.update", service_charge={"rate": "10.00", "auto_min_covers": 2, "mandatory": False})
    till_a, till_b = await open_till(w, 5000), await open_till(w, 1000, drawer="bar")

    one = await w.open(None)  # takeaway: the Scotch egg is zero-rated
    await w.add(one, "Scotch egg")
    chips = (await w.add(one, "Chips"))["lines"][1]["line_id"]
    ipa = (await w.add(one, "Pint of IPA"))["lines"][2]["line_id"]
    await w.ok("order.send", order_id=one)
    await manager.ok("order.void_item", order_id=one, line_id=ipa, reason="spilt")
    order = await w.ok("order.apply_discount", order_id=one, line_id=chips, kind="amount", value=45, reason="cold")
    assert order["totals"]["total"] == 1155
    cash_one = await stand_in_payment(db, venue, till_a, one, "cash", 1155)

    two = await w.open("2", covers=2)  # service charge 45 on 450, outside VAT
    assert (await w.add(two, "Chips"))["totals"]["total"] == 495
    await stand_in_payment(db, venue, till_a, two, "card", 495, tip=50)

    three = await w.open(None)  # sold on the bar till
    await w.add(three, "Chips")
    await stand_in_payment(db, venue, till_b, three, "cash", 450)

    four = await w.open(None)  # part paid: its payment counts here, its sale nowhere yet
    await w.add(four, "Fish & chips")
    await stand_in_payment(db, venue, till_a, four, "card", 1000)

    five = await w.open(None)  # paid last on the bar till: sold there
    await w.add(five, "Chips")
    await stand_in_payment(db, venue, till_a, five, "card", 200)
    await stand_in_payment(db, venue, till_b, five, "cash", 250)

    await stand_in_cash_refund(db, venue, till_a, one, cash_one, 200)
    await w.ok("till.cash_movement", till_id=till_a, movement_id=new_id(), amount=300, reason="float top-up")

    x = await w.ok("till.x_report", till_id=till_a)
    assert (x["tickets"], x["gross_sales"], x["discounts"], x["net_sales"]) == (2, 1650, 45, 1605)
    assert (x["service_charge"], x["gratuity"], x["sales_total"]) == (45, 0, 1650)
    # 20%: Chips 405 after discount (VAT 67.5 → 68) and Chips 450 (VAT 75); 0%: Scotch egg 750
    assert x["vat"] == [{"rate": "0.00", "net": 750, "tax": 0, "gross": 750},
                        {"rate": "20.00", "net": 712, "tax": 143, "gross": 855}]
    assert x["voids"] == {"count": 1, "amount": 650}
    assert x["payments"] == {"cash": {"count": 1, "amount": 1155, "surcharge": 0},
                             "card": {"count": 3, "amount": 1695, "surcharge": 0},
                             "open_banking": {"count": 0, "amount": 0, "surcharge": 0}}
    assert x["tips"] == {"cash": 0, "card": 50, "open_banking": 0}
    assert x["refunds"] == {"count": 1, "amount": 200, "by_method": {
        "cash": {"count": 1, "amount": 200}, "card": {"count": 0, "amount": 0},
        "open_banking": {"count": 0, "amount": 0}}}
    moves = x["cash_movements"]
    assert (moves["sale"], moves["refund"], moves["paid_in"]) == \
        ({"count": 1, "amount": 1155}, {"count": 1, "amount": -200}, {"count": 1, "amount": 300})
    assert x["expected"] == 5000 + 1155 - 200 + 300
    assert x["expected"] == x["float"] + sum(m["amount"] for m in moves.values())

    bar = await w.ok("till.x_report", till_id=till_b)
    assert (bar["tickets"], bar["sales_total"], bar["payments"]["cash"]["amount"], bar["expected"]) == \
        (2, 900, 700, 1700)

    refund_too_big = await db.run(lambda c: _try_take(c, venue.venue_id, till_b, 1701))
    assert refund_too_big == {"reason": "not_enough_cash", "available": 1700, "requested": 1701}
    closed = await w.ok("till.close", till_id=till_a, counted=6255)
    assert closed["variance"] == 0 and {k: closed["report"][k] for k in x if k not in (
        "report", "z_number", "closed_at", "closed_by", "counted", "variance")} == \
        {k: v for k, v in x.items() if k not in ("report", "z_number", "closed_at", "closed_by", "counted", "variance")}


def _try_take(conn: Any, venue_id: str, till_id: str, amount: int) -> dict[str, Any]:
    try:
        ledger.take_cash(conn, venue_id, till_id, "refund", amount)
    except Conflict as exc:
        return exc.details
    raise AssertionError("the drawer paid out more than it holds")


# A cash movement: (kind, magnitude, at the edge). Incoming kinds add it; outgoing ones take it
# if they can, and "at the edge" aims them at the drawer's balance −1, 0 or +1.
MOVES = st.lists(st.tuples(st.sampled_from(["sale", "refund", "paid_in", "paid_out", "drop", "no_sale"]),
                           st.integers(1, 3_000), st.booleans()), max_size=25)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opening=st.integers(0, 3_000), moves=MOVES)
def test_expected_is_the_float_plus_every_signed_movement(database_url: str, opening: int,
                                                          moves: list[tuple[str, int, bool]]) -> None:
    """Through SQL on one till: expected = float + Σ signed movements; the drawer never goes
    below zero, and the report's cash section adds up to the same figure."""
    with psycopg.connect(database_url, row_factory=dict_row) as conn, conn.transaction(force_rollback=True):
        venue_id, till_id = new_id(), new_id()
        conn.execute("INSERT INTO venues (id, name) VALUES (%s, 'prop')", (venue_id,))
        conn.execute("INSERT INTO tills (id, venue_id, drawer, status, float) VALUES (%s, %s, 'main', 'open', %s)",
                     (till_id, venue_id, opening))
        ledger.append(conn, venue_id, till_id, "float", opening)
        drawer = opening
        for kind, size, edge in moves:
            if kind in ("refund", "paid_out", "drop"):
                size = max(1, drawer + size % 3 - 1) if edge else size
                try:
                    left = ledger.take_cash(conn, venue_id, till_id, kind, size)
                except Conflict as exc:
                    assert exc.details["reason"] == "not_enough_cash" and size > drawer
                    continue
                drawer -= size
                assert left == drawer
            else:
                amount = 0 if kind == "no_sale" else size
                ledger.append(conn, venue_id, till_id, kind, amount)
                drawer += amount
            assert drawer >= 0
        assert ledger.expected_cash(conn, till_id) == drawer
        till = conn.execute("SELECT * FROM tills WHERE id = %s", (till_id,)).fetchone()
        report = reports.build(conn, venue_id, till)
        assert report["expected"] == report["float"] + sum(m["amount"] for m in report["cash_movements"].values())


def test_the_ledger_refuses_a_wrong_sign() -> None:
    for kind, amount in [("sale", 0), ("refund", 5), ("paid_in", -1), ("drop", 1), ("no_sale", 1), ("float", -1)]:
        assert not ledger.sign_ok(kind, amount)
        with pytest.raises(ValueError):
            ledger.append(None, "v", "t", kind, amount)
    with pytest.raises(ValueError):
        ledger.sign_ok("tip", 1)
