"""Cash payments, refunds and tills end to end through a real server."""

from __future__ import annotations

import trio

from fynlo.db import Database
from tests.payment_kit import Cashier, rows
from tests.support import VenueKit, new_id



async def test_cash_sale_change_receipt_drawer_and_cash_up(server: str, db: Database, venue: VenueKit) -> None:
    c = Cashier(server, venue)
    till_id = await c.open_till(10000)
    order_id, total = await c.order_for("Scotch egg", "Pint of IPA")
    assert total == 1400
    paid = await c.cash(order_id, total, tendered=2000)
    assert paid["ok"], paid
    result = paid["result"]
    assert result["change"] == 600 and result["status"] == "succeeded" and result["receipt_number"] >= 1
    assert result["order"]["payment_status"] == "paid" and result["order"]["due"] == 0
    ledger = await rows(db, "SELECT kind, amount FROM cash_ledger WHERE till_id = %s ORDER BY id", till_id)
    assert ledger == [{"kind": "float", "amount": 10000}, {"kind": "sale", "amount": 1400}]   # not the £20 handed over
    jobs = await rows(db, "SELECT kind, station, document FROM print_jobs WHERE order_id = %s ORDER BY created_at",
                      order_id)
    receipt = next(j for j in jobs if j["kind"] == "receipt")
    assert receipt["document"]["receipt_number"] == result["receipt_number"]
    assert receipt["document"]["order"]["totals"]["total"] == 1400
    assert receipt["document"]["payments"][0]["tendered"] == 2000 and receipt["document"]["payments"][0]["change"] == 600
    assert any(j["kind"] == "drawer_kick" and j["station"] == "main" for j in jobs)
    assert (await c.ok("order.complete", order_id=order_id))["status"] == "completed"

    closed = await c.ok("till.close", till_id=till_id, counted=11350)
    assert (closed["expected"], closed["counted"], closed["variance"]) == (11400, 11350, -50)
    assert closed["report"]["payments"]["cash"]["amount"] == 1400


async def test_bad_cash_input_changes_nothing(server: str, db: Database, venue: VenueKit) -> None:
    c = Cashier(server, venue)
    order_id, total = await c.order_for("Chips")
    no_till = await c.cash(order_id, total)
    assert no_till["error"]["code"] == "conflict" and no_till["error"]["details"]["reason"] == "no_open_till"
    await c.open_till()
    short = await c.cash(order_id, total, tendered=total - 1)
    assert short["error"]["code"] == "validation_error"
    for amount in (0, -100):
        assert (await c.cash(order_id, amount, tendered=1000))["error"]["code"] == "validation_error"
    over = await c.cash(order_id, total + 1, tendered=5000)
    assert over["error"]["code"] == "validation_error" and over["error"]["details"]["reason"] == "amount_exceeds_due"
    assert await rows(db, "SELECT id FROM payments WHERE order_id = %s", order_id) == []
    other_id, other_total = await c.order_for("Chips", table="2")
    manager = Cashier(server, venue, "manager")
    await manager.ok("order.cancel", order_id=other_id, reason="walked out")
    cancelled = await c.cash(other_id, other_total)
    assert cancelled["error"]["code"] == "conflict" and cancelled["error"]["details"]["reason"] == "order_not_open"
    assert await rows(db, "SELECT id FROM payments WHERE order_id = %s", other_id) == []


async def test_part_payments_and_two_terminals_racing(server: str, db: Database, venue: VenueKit) -> None:
    c = Cashier(server, venue)
    await c.open_till()
    order_id, total = await c.order_for("Scotch egg", "Pint of IPA", "Chips")
    first = await c.cash(order_id, 1000)
    assert first["result"]["order"]["payment_status"] == "part_paid"
    replies: list[dict] = []

    async def pay() -> None:
        replies.append(await c.cash(order_id, total - 1000))

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(pay)
    assert sum(r["ok"] for r in replies) == 1, replies
    assert all(r["error"]["details"]["reason"] == "nothing_due" for r in replies if not r["ok"])
    paid = await rows(db, "SELECT sum(amount) AS s, count(*) AS n FROM payments WHERE order_id = %s", order_id)
    assert paid == [{"s": total, "n": 2}]


async def test_cash_rounding_settles_the_order(server: str, db: Database, venue: VenueKit) -> None:
    manager = Cashier(server, venue, "manager")
    await manager.ok("venue.update", cash_rounding=5)
    c = Cashier(server, venue)
    till_id = await c.open_till(0)
    order_id = await c.open(None)
    await c.add(order_id, "Chips")
    await c.ok("order.apply_discount", order_id=order_id, kind="amount", value=2, reason="chipped plate")
    result = (await c.cash(order_id, 450, tendered=500))["result"]   # owes 448, rounds to 450
    assert result["amount"] == 448 and result["order"]["payment_status"] == "paid" and result["change"] == 50
    ledger = await rows(db, "SELECT amount FROM cash_ledger WHERE till_id = %s AND kind = 'sale'", till_id)
    assert ledger == [{"amount": 450}]


async def test_refunds_need_a_manager_and_never_exceed_what_was_taken(server: str, db: Database,
                                                                       venue: VenueKit) -> None:
    c = Cashier(server, venue)
    till_id = await c.open_till(5000)
    order_id, total = await c.order_for("Scotch egg")
    payment = (await c.cash(order_id, total))["result"]
    args = {"order_id": order_id, "payment_id": payment["payment_id"], "amount": 300, "reason": "cold"}
    refused = await c("payment.refund", refund_id=new_id(), **args)
    assert refused["error"]["code"] == "approval_required"
    too_much = await c("payment.refund", refund_id=new_id(), approval={"pin": venue.people["manager"].pin},
                       **{**args, "amount": total + 1})
    assert too_much["error"]["code"] == "validation_error"
    assert await rows(db, "SELECT id FROM refunds WHERE order_id = %s", order_id) == []
    refund_id = new_id()
    done = await c.ok("payment.refund", refund_id=refund_id, approval={"pin": venue.people["manager"].pin}, **args)
    assert done["amount"] == 300 and done["parts"][0]["status"] == "succeeded"
    told = await rows(db, "SELECT name, data FROM events WHERE venue_id = %s AND name LIKE 'payment.refun%%'"
                          " ORDER BY seq", venue.venue_id)
    assert [(e["name"], e["data"].get("status")) for e in told] == [("payment.refund_started", None),
                                                                     ("payment.refunded", "succeeded")]
    assert done["order"]["payment_status"] == "part_refunded"
    again = await c.ok("payment.refund", refund_id=refund_id, approval={"pin": venue.people["manager"].pin}, **args)
    assert again["parts"] == done["parts"]
    ledger = await rows(db, "SELECT kind, amount FROM cash_ledger WHERE till_id = %s ORDER BY id", till_id)
    assert ledger[-1] == {"kind": "refund", "amount": -300} and sum(1 for r in ledger if r["kind"] == "refund") == 1
    jobs = await rows(db, "SELECT document FROM print_jobs WHERE order_id = %s AND kind = 'refund_receipt'", order_id)
    assert len(jobs) == 1 and jobs[0]["document"]["refund"]["amount"] == 300
    assert jobs[0]["document"]["original_receipt_number"] == payment["receipt_number"]
    rest = await c.ok("payment.refund", refund_id=new_id(), approval={"pin": venue.people["manager"].pin},
                      **{**args, "amount": total - 300})
    assert rest["order"]["payment_status"] == "refunded"
    x = await c.ok("till.x_report", till_id=till_id)
    assert x["expected"] == 5000 and x["refunds"]["amount"] == total


async def test_receipt_numbers_have_no_gaps(server: str, db: Database, venue: VenueKit) -> None:
    c = Cashier(server, venue)
    await c.open_till()
    numbers = []
    for table in ("1", "2", "3"):
        order_id, total = await c.order_for("Chips", table=table)
        numbers.append((await c.cash(order_id, total))["result"]["receipt_number"])
        assert (await c.cash(order_id, 1))["ok"] is False     # a failed attempt takes no number
    assert numbers == list(range(numbers[0], numbers[0] + 3))


async def test_quote_and_even_split(server: str, venue: VenueKit) -> None:
    c = Cashier(server, venue)
    quote = await c.ok("payment.quote", amount=10000)
    methods = {m["method"]: m for m in quote["methods"]}
    assert methods["card"]["venue_pays"]["processing"] == 320          # 2.9% + 30p
    assert methods["open_banking"]["venue_pays"]["processing"] == 20   # 0.2%
    assert methods["cash"]["venue_pays"]["total"] == 0 and methods["card"]["customer_pays"] == 10000
    order_id, total = await c.order_for("Scotch egg", "Chips")
    split = await c.ok("payment.split_even", order_id=order_id, ways=3)
    assert sum(split["parts"]) == total and max(split["parts"]) - min(split["parts"]) <= 1


async def test_every_tills_expected_cash_is_its_float_plus_what_it_took(server: str, db: Database,
                                                                       venue: VenueKit) -> None:
    """Two cashiers on two drawers race over the same orders: each order is paid once, and each
    till's expected cash is its float plus its own sales, less its own refunds and payouts."""
    staff, manager = Cashier(server, venue), Cashier(server, venue, "manager")
    tills = {"staff": await staff.open_till(3000, drawer="front"), "manager": await manager.open_till(5000, drawer="bar")}
    orders = [await staff.order_for("Chips", "Pint of IPA", table=t) for t in ("1", "2", "3", "4")]
    replies: list[dict] = []

    async def pay(c: Cashier, who: str, order_id: str, total: int) -> None:
        replies.append(await c.cash(order_id, total, tendered=total + 500, till_id=tills[who]))

    async with trio.open_nursery() as nursery:
        for order_id, total in orders:
            nursery.start_soon(pay, staff, "staff", order_id, total)
            nursery.start_soon(pay, manager, "manager", order_id, total)
    assert sum(r["ok"] for r in replies) == len(orders)
    await manager.ok("till.cash_movement", till_id=tills["manager"], movement_id=new_id(), amount=-700, reason="milk")
    won = next(r["result"] for r in replies if r["ok"])
    await manager.ok("payment.refund", order_id=won["order_id"], refund_id=new_id(), amount=200, reason="spilt",
                     till_id=tills[next(k for k, v in tills.items() if v == won["till_id"])])
    for who, till_id in tills.items():
        taken = await rows(db, "SELECT coalesce(sum(captured), 0) AS s FROM payments WHERE till_id = %s"
                               " AND method = 'cash' AND status = 'succeeded'", till_id)
        returned = await rows(db, "SELECT coalesce(sum(amount), 0) AS s FROM refunds WHERE till_id = %s", till_id)
        moved = await rows(db, "SELECT coalesce(sum(amount), 0) AS s FROM cash_ledger WHERE till_id = %s"
                               " AND kind IN ('paid_in', 'paid_out', 'drop')", till_id)
        float_ = 3000 if who == "staff" else 5000
        x = await manager.ok("till.x_report", till_id=till_id)
        assert x["expected"] == float_ + taken[0]["s"] - returned[0]["s"] + moved[0]["s"]


async def test_an_order_with_payments_cannot_be_split_and_one_in_flight_cannot_be_cancelled(
        server: str, db: Database, venue: VenueKit) -> None:
    c = Cashier(server, venue)
    await c.open_till()
    order_id, _ = await c.order_for("Chips", "Pint of IPA")
    lines = (await c.ok("order.get", order_id=order_id))["lines"]
    await c.cash(order_id, 100)
    refused = await c("order.split", order_id=order_id, parts=[{"order_id": new_id(), "line_ids": [lines[0]["line_id"]]}])
    assert refused["error"]["details"]["reason"] == "has_payments"
    await db.run(lambda conn: conn.execute(
        "INSERT INTO payments (id, venue_id, order_id, method, status, amount) VALUES (%s, %s, %s, 'card', 'pending', 50)",
        (new_id(), venue.venue_id, order_id)))   # a card on the reader
    cancel = await Cashier(server, venue, "manager")("order.cancel", order_id=order_id, reason="left")
    assert cancel["error"]["details"]["reason"] == "has_payments"


async def test_without_a_card_provider_the_attempt_fails_cleanly_and_cash_still_works(
        server: str, db: Database, venue: VenueKit) -> None:
    c = Cashier(server, venue)
    await c.open_till()
    order_id, total = await c.order_for("Chips")
    card = await c("payment.card_start", order_id=order_id, payment_id=new_id(), amount=total)
    assert card["error"]["code"] == "unavailable" and card["error"]["details"]["reason"] == "not_configured"
    qr = await c("payment.qr_start", order_id=order_id, payment_id=new_id(), amount=total)
    assert qr["error"]["code"] == "unavailable"
    assert {r["status"] for r in await rows(db, "SELECT status FROM payments WHERE order_id = %s", order_id)} == {"failed"}
    assert (await c.cash(order_id, total))["ok"]


async def test_a_new_payment_is_returned_exactly_as_stored(server: str, db: Database, venue: VenueKit) -> None:
    """`repo.insert` builds the row it returns instead of reading it back: it must be the row
    PostgreSQL holds, column for column and type for type (a new column or default breaks it)."""
    from datetime import timedelta

    from fynlo.orders.repo import now
    from fynlo.payments import repo

    c = Cashier(server, venue)
    till_id = await c.open_till()
    order_id, total = await c.order_for("Chips")
    payment_id = new_id()

    def add_and_read(conn: object) -> tuple[dict, dict]:
        built = repo.insert(conn, {
            "id": payment_id, "venue_id": venue.venue_id, "order_id": order_id, "method": "open_banking",
            "status": "pending", "amount": total, "tip": 50, "till_id": till_id, "provider_key": "key",
            "staff_id": None, "terminal_id": None, "expires_at": now(conn) + timedelta(minutes=15),
            "details": {"reference": "FYN-1", "nested": {"n": 1}},
        })
        return built, conn.execute("SELECT * FROM payments WHERE id = %s", (payment_id,)).fetchone()  # type: ignore[attr-defined]

    built, stored = await db.run(add_and_read)
    assert built == stored
    assert {k: type(v) for k, v in built.items()} == {k: type(v) for k, v in stored.items()}
