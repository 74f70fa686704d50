"""More payments end to end through a real server, PostgreSQL, the Stripe fake and the simulated
bank: two terminals racing for one bill, a bill split by items and paid three ways, a Z report
after real payments, and retries of money commands under the same command id."""

from __future__ import annotations

from typing import Any

import trio

from fynlo.auth.terminals import register_terminal
from fynlo.auth.tokens import mint_access
from fynlo.config import Settings
from fynlo.db import Database
from tests.payment_kit import (
    Cashier,
    Payments,
    bank_request_id,
    intent_id,
    money_footprint,
    payment_row,
    rows,
    stripe_posts,
)
from tests.support import VenueKit, new_id
from tests.test_commands import post


async def second_terminal(db: Database, settings: Settings, kit: VenueKit, server: str,
                          role: str = "staff") -> tuple[str, Cashier]:
    """Register another terminal for the venue and a cashier whose token is bound to it."""
    manager_id = kit.people["manager"].staff_id
    terminal_id, _ = await db.run(lambda c: register_terminal(c, kit.venue_id, "Till 2", manager_id))
    token, _ = mint_access(settings, staff_id=kit.people[role].staff_id, venue_id=kit.venue_id, role=role,
                           terminal_id=terminal_id, family_id=None)
    cashier = Cashier(server, kit, role)
    cashier.token = token
    return terminal_id, cashier


async def ledger_of(db: Database, till_id: str) -> list[dict[str, Any]]:
    return await rows(db, "SELECT kind, amount, payment_id FROM cash_ledger WHERE till_id = %s ORDER BY id", till_id)


async def assert_expected_is_float_plus_ledger(c: Cashier, db: Database, till_id: str, float_: int) -> int:
    """The X report's expected cash is the till's float plus every non-float ledger entry."""
    moved = [r["amount"] for r in await ledger_of(db, till_id) if r["kind"] != "float"]
    x = await c.ok("till.x_report", till_id=till_id)
    assert x["float"] == float_
    assert x["expected"] == float_ + sum(moved), (x, moved)
    return int(x["expected"])


async def test_two_terminals_race_to_pay_one_order(pay: Payments, db: Database, venue: VenueKit,
                                                   settings: Settings) -> None:
    one = Cashier(pay.server, venue)
    two_terminal, two = await second_terminal(db, settings, venue, pay.server)
    assert two_terminal != venue.terminal_id
    floats = {"front": 3000, "bar": 5000}
    till_one = await one.open_till(floats["front"], drawer="front")
    till_two = await two.open_till(floats["bar"], drawer="bar")
    tills = await rows(db, "SELECT id, terminal_id, drawer FROM tills WHERE venue_id = %s ORDER BY drawer",
                       venue.venue_id)
    assert [(str(t["id"]), str(t["terminal_id"]), t["drawer"]) for t in tills] == \
        [(till_two, two_terminal, "bar"), (till_one, venue.terminal_id, "front")]
    till_of = {venue.terminal_id: till_one, two_terminal: till_two}
    float_of = {till_one: floats["front"], till_two: floats["bar"]}

    # 1. cash against cash, no till named: each terminal's own till
    order_id, total = await one.order_for("Scotch egg", "Pint of IPA")
    assert total == 1400
    replies: dict[str, dict[str, Any]] = {}

    async def cash(who: str, c: Cashier) -> None:
        replies[who] = await c.cash(order_id, total, tendered=2000)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(cash, "one", one)
        nursery.start_soon(cash, "two", two)
    assert sorted(r["ok"] for r in replies.values()) == [False, True], replies
    [winner] = [w for w, r in replies.items() if r["ok"]]
    [loser] = [w for w, r in replies.items() if not r["ok"]]
    won, lost = replies[winner]["result"], replies[loser]["error"]
    assert (lost["code"], lost["details"]["reason"], lost["details"]["due"]) == ("conflict", "nothing_due", 0)
    winner_till = till_one if winner == "one" else till_two
    loser_till = till_two if winner == "one" else till_one
    assert won["till_id"] == winner_till and won["change"] == 600
    assert won["order"]["payment_status"] == "paid" and won["order"]["due"] == 0
    paid = await rows(db, "SELECT id, till_id, terminal_id, captured, status FROM payments WHERE order_id = %s",
                      order_id)
    assert len(paid) == 1 and paid[0]["status"] == "succeeded" and paid[0]["captured"] == total
    assert str(paid[0]["till_id"]) == winner_till and till_of[str(paid[0]["terminal_id"])] == winner_till
    sales = await rows(db, "SELECT l.till_id, l.amount, l.payment_id FROM cash_ledger l JOIN tills t"
                           " ON t.id = l.till_id WHERE t.venue_id = %s AND l.kind = 'sale'", venue.venue_id)
    assert [(str(s["till_id"]), s["amount"], str(s["payment_id"])) for s in sales] == \
        [(winner_till, total, won["payment_id"])]
    assert await assert_expected_is_float_plus_ledger(one, db, winner_till, float_of[winner_till]) == \
        float_of[winner_till] + total
    assert await assert_expected_is_float_plus_ledger(one, db, loser_till, float_of[loser_till]) == \
        float_of[loser_till]

    # 2. cash on terminal one against a card on terminal two, for the whole bill, several times
    bills = [await one.order_for("Chips", "Pint of IPA") for _ in range(4)]
    raced: dict[str, dict[str, dict[str, Any]]] = {o: {} for o, _ in bills}

    async def by_cash(o: str, amount: int) -> None:
        raced[o]["cash"] = await one.cash(o, amount)

    async def by_card(o: str, amount: int) -> None:
        raced[o]["card"] = await two.card(o, amount)

    async with trio.open_nursery() as nursery:
        for o, amount in bills:
            nursery.start_soon(by_cash, o, amount)
            nursery.start_soon(by_card, o, amount)
    cash_sales = 0
    for o, amount in bills:
        assert amount == 1100
        got = raced[o]
        assert sorted(r["ok"] for r in got.values()) == [False, True], got
        [refused] = [r["error"] for r in got.values() if not r["ok"]]
        assert (refused["code"], refused["details"]["reason"], refused["details"]["due"]) == \
            ("conflict", "nothing_due", 0)
        listed = await rows(db, "SELECT method, status, amount, tip, captured, till_id FROM payments"
                                " WHERE order_id = %s", o)
        assert len(listed) == 1 and listed[0]["amount"] == amount         # the loser left no row
        if got["cash"]["ok"]:
            cash_sales += amount
            assert (listed[0]["method"], listed[0]["status"], listed[0]["captured"]) == ("cash", "succeeded", amount)
            assert str(listed[0]["till_id"]) == till_one
        else:
            started = got["card"]["result"]
            assert (listed[0]["method"], listed[0]["status"]) == ("card", "pending")
            assert str(listed[0]["till_id"]) == till_two                   # the card terminal's till
            assert pay.stripe.intents[intent_id(started)]["amount"] == amount
            late = await one.cash(o, 1)                                    # the card holds the whole bill
            assert late["error"]["details"]["reason"] == "nothing_due"
            await pay.stripe.customer_pays(intent_id(started))
            assert (await payment_row(db, started["payment_id"]))["captured"] == amount
        order = await one.ok("order.get", order_id=o)
        assert (order["payment_status"], order["paid"], order["due"]) == ("paid", amount, 0)
        collected = await rows(db, "SELECT coalesce(sum(captured), 0) AS s FROM payments WHERE order_id = %s"
                                   " AND status = 'succeeded'", o)
        assert collected == [{"s": amount}]                                # never more than the bill
        again = await two.card(o, 1)
        assert again["error"]["details"]["reason"] == "nothing_due"
    assert len(pay.stripe.intents) == sum(1 for o, _ in bills if raced[o]["card"]["ok"])
    assert await assert_expected_is_float_plus_ledger(one, db, till_one, floats["front"]) == \
        floats["front"] + cash_sales + (total if winner_till == till_one else 0)
    assert await assert_expected_is_float_plus_ledger(two, db, till_two, floats["bar"]) == \
        floats["bar"] + (total if winner_till == till_two else 0)


async def test_a_bill_split_by_items_is_paid_three_ways(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    till_id = await c.open_till(2000)
    original, total = await c.order_for("Scotch egg", "Pint of IPA", "Fish & chips")
    assert total == 750 + 650 + 1650
    lines = {ln["name"]: ln["line_id"] for ln in (await c.ok("order.get", order_id=original))["lines"]}
    by_cash, by_card = new_id(), new_id()
    split = await c.ok("order.split", order_id=original, parts=[
        {"order_id": by_cash, "line_ids": [lines["Scotch egg"]]},
        {"order_id": by_card, "line_ids": [lines["Pint of IPA"]]}])
    created = {o["order_id"]: o for o in split["created"]}
    assert set(created) == {by_cash, by_card}
    dues = {by_cash: created[by_cash]["due"], by_card: created[by_card]["due"], original: split["order"]["due"]}
    assert dues == {by_cash: 750, by_card: 650, original: 1650} and sum(dues.values()) == total
    assert [ln["name"] for ln in split["order"]["lines"]] == ["Fish & chips"]

    cash = await c.ok("payment.cash", order_id=by_cash, payment_id=new_id(), amount=750, tendered=1000)
    assert cash["change"] == 250 and cash["order"]["payment_status"] == "paid"

    card = await c.ok("payment.card_start", order_id=by_card, payment_id=new_id(), amount=650)
    assert card["status"] == "pending" and pay.stripe.intents[intent_id(card)]["amount"] == 650
    await pay.stripe.customer_pays(intent_id(card))

    qr = await c.ok("payment.qr_start", order_id=original, payment_id=new_id(), amount=1650)
    assert pay.bank.requests[bank_request_id(qr)]["amount"] == 1650
    await pay.bank.customer_pays(bank_request_id(qr))

    methods = {by_cash: "cash", by_card: "card", original: "open_banking"}
    captured = 0
    for order_id, method in methods.items():
        [payment] = await rows(db, "SELECT method, status, amount, tip, surcharge, captured, till_id FROM payments"
                                   " WHERE order_id = %s", order_id)
        assert (payment["method"], payment["status"], payment["amount"], payment["captured"]) == \
            (method, "succeeded", dues[order_id], dues[order_id])
        assert str(payment["till_id"]) == till_id
        captured += payment["captured"]
        order = await c.ok("order.get", order_id=order_id)
        assert (order["payment_status"], order["paid"], order["due"]) == ("paid", dues[order_id], 0)
        done = await c.ok("order.complete", order_id=order_id)
        assert (done["status"], done["payment_status"]) == ("completed", "paid")
    assert captured == total
    assert pay.stripe.intents[intent_id(card)]["amount_received"] == 650
    assert pay.bank.requests[bank_request_id(qr)]["status"] == "paid"
    assert (await c.ok("till.x_report", till_id=till_id))["expected"] == 2000 + 750


async def test_the_z_report_after_real_payments(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    till_id = await c.open_till(5000)
    # takeaway: the Scotch egg is zero-rated, everything else 20 %
    by_cash, cash_total = await c.order_for("Scotch egg", "Chips")
    by_card, card_total = await c.order_for("Pint of IPA")
    by_qr, qr_total = await c.order_for("Fish & chips")
    assert (cash_total, card_total, qr_total) == (1200, 650, 1650)

    cash = await c.ok("payment.cash", order_id=by_cash, payment_id=new_id(), amount=1200, tip=50, tendered=1500)
    assert cash["change"] == 250
    card = await c.ok("payment.card_start", order_id=by_card, payment_id=new_id(), amount=650, tip=120)
    assert card["till_id"] == till_id and pay.stripe.intents[intent_id(card)]["amount"] == 770
    await pay.stripe.customer_pays(intent_id(card))
    qr = await c.ok("payment.qr_start", order_id=by_qr, payment_id=new_id(), amount=1650)
    assert qr["till_id"] == till_id
    await pay.bank.customer_pays(bank_request_id(qr))
    tills = await rows(db, "SELECT method, status, till_id FROM payments WHERE venue_id = %s ORDER BY method",
                       venue.venue_id)
    assert [(p["method"], p["status"], str(p["till_id"])) for p in tills] == \
        [("card", "succeeded", till_id), ("cash", "succeeded", till_id), ("open_banking", "succeeded", till_id)]

    closed = await c.ok("till.close", till_id=till_id, counted=6240)
    assert (closed["expected"], closed["counted"], closed["variance"]) == (5000 + 1250, 6240, -10)
    z = closed["report"]
    assert (z["report"], z["z_number"], z["till_id"]) == ("z", closed["z_number"], till_id)
    assert z["payments"] == {"cash": {"count": 1, "amount": 1200, "surcharge": 0},
                             "card": {"count": 1, "amount": 650, "surcharge": 0},
                             "open_banking": {"count": 1, "amount": 1650, "surcharge": 0}}
    assert z["tips"] == {"cash": 50, "card": 120, "open_banking": 0}
    # 0 %: Scotch egg 750. 20 %: Chips 450 (VAT 75), IPA 650 (108.33 -> 108), Fish & chips 1650 (275)
    assert z["vat"] == [{"rate": "0.00", "net": 750, "tax": 0, "gross": 750},
                        {"rate": "20.00", "net": 2750 - 458, "tax": 458, "gross": 2750}]
    assert (z["tickets"], z["gross_sales"], z["discounts"], z["net_sales"], z["sales_total"]) == \
        (3, 3500, 0, 3500, 3500)
    assert z["refunds"]["count"] == 0 and z["cash_movements"]["sale"] == {"count": 1, "amount": 1250}
    assert z["expected"] == z["float"] + sum(m["amount"] for m in z["cash_movements"].values())
    [stored] = await rows(db, "SELECT number, data FROM z_reports WHERE till_id = %s", till_id)
    assert stored["number"] == closed["z_number"] and stored["data"] == z


async def test_money_commands_retried_under_the_same_id_change_nothing(pay: Payments, db: Database,
                                                                       venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    till_id = await c.open_till(1000)
    pin = {"pin": venue.people["manager"].pin}

    async def twice(name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Send the command, then again under the same id: the same reply, nothing changed."""
        command_id = new_id()
        first = await post(pay.server, c.token, name, args, command_id)
        assert first["ok"], first
        await pay.stripe.settle()
        before = await money_footprint(db, pay, venue.venue_id)
        again = await post(pay.server, c.token, name, args, command_id)
        await pay.stripe.settle()
        assert again == first
        assert await money_footprint(db, pay, venue.venue_id) == before
        return first["result"]

    # cash
    cash_order, cash_total = await c.order_for("Scotch egg")
    cash_id = new_id()
    cash_args = {"order_id": cash_order, "payment_id": cash_id, "amount": cash_total, "tendered": 1000}
    cash = await twice("payment.cash", cash_args)
    assert cash["change"] == 250 and cash["order"]["payment_status"] == "paid"
    assert [r["kind"] for r in await ledger_of(db, till_id)] == ["float", "sale"]

    # a tab, captured
    tab_order, tab_total = await c.order_for("Scotch egg", "Pint of IPA")
    held = await c.ok("payment.card_start", order_id=tab_order, payment_id=new_id(), amount=5000, capture="manual")
    await pay.stripe.customer_pays(intent_id(held))
    assert (await payment_row(db, held["payment_id"]))["status"] == "authorised"
    captured = await twice("payment.card_capture", {"order_id": tab_order, "payment_id": held["payment_id"],
                                                    "amount": tab_total + 200, "tip": 200})
    assert captured["status"] == "succeeded" and captured["order"]["payment_status"] == "paid"
    assert len(stripe_posts(pay.stripe, f"/v1/payment_intents/{intent_id(held)}/capture")) == 1
    assert pay.stripe.intents[intent_id(held)]["amount_received"] == tab_total + 200

    # refunds: cash out of the drawer, card back through Stripe
    cash_refund = await twice("payment.refund", {"order_id": cash_order, "payment_id": cash_id,
                                                 "refund_id": new_id(), "amount": 300, "reason": "cold",
                                                 "approval": pin})
    assert cash_refund["parts"][0]["status"] == "succeeded" and cash_refund["amount"] == 300
    assert [r["kind"] for r in await ledger_of(db, till_id)] == ["float", "sale", "refund"]
    card_refund = await twice("payment.refund", {"order_id": tab_order, "payment_id": held["payment_id"],
                                                 "refund_id": new_id(), "amount": 400, "reason": "slow",
                                                 "approval": pin})
    assert card_refund["parts"][0]["status"] == "succeeded"
    assert [r["amount"] for r in pay.stripe.refunds.values()] == [400]
    assert (await payment_row(db, held["payment_id"]))["refunded"] == 400
    assert (await c.ok("till.x_report", till_id=till_id))["expected"] == 1000 + cash_total - 300

    # a payment id reused under a new command id
    fresh, fresh_total = await c.order_for("Chips")
    before = await money_footprint(db, pay, venue.venue_id)
    reused = [
        await post(pay.server, c.token, "payment.cash", cash_args),                      # same args, new id
        await post(pay.server, c.token, "payment.cash", {**cash_args, "order_id": fresh,
                                                         "amount": fresh_total, "tendered": fresh_total}),
        await post(pay.server, c.token, "payment.card_start", {"order_id": fresh, "payment_id": cash_id,
                                                               "amount": fresh_total}),
        await post(pay.server, c.token, "payment.qr_start", {"order_id": fresh, "payment_id": held["payment_id"],
                                                             "amount": fresh_total}),
        await post(pay.server, c.token, "payment.cash", {"order_id": fresh, "payment_id": held["payment_id"],
                                                         "amount": fresh_total, "tendered": fresh_total}),
    ]
    assert [(r["ok"], r["error"]["code"], r["error"]["details"]["reason"]) for r in reused] == \
        [(False, "conflict", "payment_exists")] * len(reused), reused
    assert await money_footprint(db, pay, venue.venue_id) == before
    assert (await c.ok("order.get", order_id=fresh))["payment_status"] == "unpaid"
