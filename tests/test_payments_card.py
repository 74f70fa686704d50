"""Card payments through the Stripe fake, end to end through a real server: intents, retries,
declines, pre-authorised tabs, the sweep that settles old holds, Terminal tokens and refunds."""

from __future__ import annotations


import time

import httpx
import psycopg
import trio

from fynlo.config import Settings
from fynlo.db import Database
from fynlo.payments.card import MAX_HOLD
from sim.turns import TurnProxy, through
from tests.payment_kit import (
    Cashier,
    Payments,
    bank_request_id,
    event_names,
    intent_id,
    payment_row,
    payments_server,
    rows,
    send,
    stripe_posts,
)
from tests.support import VenueKit, new_id




async def receipts(db: Database, order_id: str) -> list[dict]:
    return await rows(db, "SELECT document FROM print_jobs WHERE order_id = %s AND kind = 'receipt'", order_id)


async def test_card_is_paid_only_when_stripe_says_succeeded(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Scotch egg", "Pint of IPA")
    payment_id = new_id()
    started = await c.ok("payment.card_start", order_id=order_id, payment_id=payment_id, amount=total, tip=200)
    assert started["status"] == "pending" and started["client_secret"].startswith("pi_")
    assert started["order"]["payment_status"] == "unpaid" and started["order"]["paid"] == 0
    intent = pay.stripe.intents[intent_id(started)]
    assert intent["amount"] == total + 200 and intent["payment_method_types"] == ["card_present"]
    assert intent["metadata"]["payment_id"] == payment_id and intent["status"] == "requires_payment_method"
    assert stripe_posts(pay.stripe, "/v1/payment_intents") == [f"fynlo-{payment_id}-create"]
    assert await receipts(db, order_id) == []

    await pay.stripe.customer_pays(intent["id"])          # the card is tapped; Stripe calls back
    paid = await payment_row(db, payment_id)
    assert (paid["status"], paid["captured"]) == ("succeeded", total + 200) and paid["receipt_number"] >= 1
    assert paid["processing_fee"] == (total + 200) * 29 // 1000 + 30
    order = await c.ok("order.get", order_id=order_id)
    assert order["payment_status"] == "paid" and order["paid"] == total
    [receipt] = await receipts(db, order_id)
    assert receipt["document"]["receipt_number"] == paid["receipt_number"]
    assert receipt["document"]["payments"][0]["tip"] == 200
    assert (await event_names(db, venue.venue_id, payment_id)) == ["payment.started", "payment.succeeded"]


async def test_in_app_intents_and_no_more_than_is_due(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Chips")
    over = await c.card(order_id, total + 1)
    assert over["error"]["code"] == "validation_error" and over["error"]["details"]["reason"] == "amount_exceeds_due"
    assert pay.stripe.intents == {} and await rows(db, "SELECT id FROM payments WHERE order_id = %s", order_id) == []

    started = (await c.card(order_id, total, present=False))["result"]
    intent = pay.stripe.intents[intent_id(started)]
    assert intent["automatic_payment_methods"]["enabled"] is True and intent["payment_method_types"] == ["card"]
    assert started["present"] is False
    second = await c.card(order_id, total)                # one card attempt per order at a time
    assert second["error"]["code"] == "conflict" and second["error"]["details"]["reason"] == "payment_in_progress"
    assert len(pay.stripe.intents) == 1
    other = await c.open(None)                            # nor can it be merged away meanwhile
    merged = await c("order.merge", order_id=other, from_order_id=order_id)
    assert merged["error"]["code"] == "conflict" and merged["error"]["details"]["reason"] == "has_payments"
    assert (await c.ok("order.get", order_id=order_id))["status"] == "open"

    raced_id, raced_total = await c.order_for("Chips", table="2")
    replies: list[dict] = []

    async def start() -> None:                            # three terminals tap "card" at once
        replies.append(await c.card(raced_id, raced_total))

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(start)
    assert sum(r["ok"] for r in replies) == 1 and len(pay.stripe.intents) == 2
    assert {r["error"]["details"]["reason"] for r in replies if not r["ok"]} == {"payment_in_progress"}


async def test_a_retry_after_a_timeout_gets_the_same_intent(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Scotch egg")
    payment_id, command_id = new_id(), new_id()
    args = {"order_id": order_id, "payment_id": payment_id, "amount": total}
    pay.stripe.fail_next("timeout", path_prefix="/v1/payment_intents")   # Stripe acts, then never answers
    timed_out = await send(pay.server, c.token, "payment.card_start", command_id, **args)
    assert timed_out["error"]["code"] == "unavailable"
    assert len(pay.stripe.intents) == 1
    assert (await payment_row(db, payment_id))["status"] == "pending"

    retried = await send(pay.server, c.token, "payment.card_start", command_id, **args)
    assert retried["ok"], retried
    [made] = pay.stripe.intents
    assert intent_id(retried["result"]) == made
    assert stripe_posts(pay.stripe, "/v1/payment_intents") == [f"fynlo-{payment_id}-create"] * 2
    again = await send(pay.server, c.token, "payment.card_start", command_id, **args)
    assert again == retried                              # now answered from the stored reply
    await pay.stripe.customer_pays(made)
    assert (await c.ok("order.get", order_id=order_id))["payment_status"] == "paid"


async def test_a_decline_is_not_the_end_of_the_payment(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Scotch egg")
    started = (await c.card(order_id, total))["result"]
    payment_id = started["payment_id"]
    await pay.stripe.customer_pays(intent_id(started), decline="insufficient_funds")
    row = await payment_row(db, payment_id)
    assert row["status"] == "pending" and row["details"]["failure"] == "insufficient_funds"
    assert "payment.declined" in await event_names(db, venue.venue_id, payment_id)
    refreshed = await c("payment.card_refresh", order_id=order_id, payment_id=payment_id)
    assert refreshed["error"]["code"] == "payment_declined"
    assert refreshed["error"]["details"]["decline_code"] == "insufficient_funds"
    assert (await c.ok("order.get", order_id=order_id))["payment_status"] == "unpaid"

    await pay.stripe.customer_pays(intent_id(started))    # another card on the same intent
    refreshed = await c.ok("payment.card_refresh", order_id=order_id, payment_id=payment_id)
    assert refreshed["status"] == "succeeded" and refreshed["order"]["payment_status"] == "paid"


async def test_a_tab_is_held_then_captured_for_no_more_than_it_holds(pay: Payments, db: Database,
                                                                      venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Scotch egg", "Pint of IPA")
    huge = await c.card(order_id, MAX_HOLD - 99, tip=100, capture="manual")   # a hold is capped, tip and all
    assert huge["error"]["code"] == "validation_error" and pay.stripe.intents == {}
    held = (await c.card(order_id, 5000, capture="manual"))["result"]
    payment_id, intent = held["payment_id"], intent_id(held)
    assert pay.stripe.intents[intent]["capture_method"] == "manual" and pay.stripe.intents[intent]["amount"] == 5000
    await pay.stripe.customer_pays(intent)
    row = await payment_row(db, payment_id)
    assert (row["status"], row["authorised"]) == ("authorised", 5000)
    order = await c.ok("order.get", order_id=order_id)
    assert order["payment_status"] == "unpaid" and order["paid"] == 0        # held is not paid
    assert "payment.authorised" in await event_names(db, venue.venue_id, payment_id)

    too_much = await c("payment.card_capture", order_id=order_id, payment_id=payment_id, amount=5001)
    assert too_much["error"]["code"] == "validation_error"
    assert stripe_posts(pay.stripe, f"/v1/payment_intents/{intent}/capture") == []   # Stripe never heard of it
    captured = await c.ok("payment.card_capture", order_id=order_id, payment_id=payment_id, amount=total + 300, tip=300)
    assert captured["status"] == "succeeded" and captured["order"]["payment_status"] == "paid"
    assert pay.stripe.intents[intent]["amount_received"] == total + 300
    row = await payment_row(db, payment_id)
    assert (row["amount"], row["tip"], row["captured"]) == (total, 300, total + 300)
    assert len(await receipts(db, order_id)) == 1


async def test_a_tab_can_be_released(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, _ = await c.order_for("Chips")
    held = (await c.card(order_id, 3000, capture="manual"))["result"]
    await pay.stripe.customer_pays(intent_id(held))
    released = await c.ok("payment.card_cancel", order_id=order_id, payment_id=held["payment_id"])
    assert released["status"] == "canceled" and pay.stripe.intents[intent_id(held)]["status"] == "canceled"
    assert "payment.canceled" in await event_names(db, venue.venue_id, held["payment_id"])
    late = await c("payment.card_capture", order_id=order_id, payment_id=held["payment_id"], amount=3000)
    assert late["error"]["code"] == "conflict" and late["error"]["details"]["status"] == "canceled"
    assert stripe_posts(pay.stripe, f"/v1/payment_intents/{intent_id(held)}/capture") == []   # refused here
    again = (await c.card(order_id, 3000, capture="manual"))["result"]      # a fresh hold may follow
    await pay.stripe.customer_pays(intent_id(again))
    await pay.stripe.expire_authorisation(intent_id(again))                 # and lapse at the card network
    lapsed = await payment_row(db, again["payment_id"])
    assert lapsed["status"] == "canceled"
    assert (await c.ok("order.get", order_id=order_id))["payment_status"] == "unpaid"


async def test_the_sweep_settles_old_holds(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    await c.open_till()
    owing, owing_total = await c.order_for("Scotch egg", table="1")
    settled, settled_total = await c.order_for("Chips", table="2")
    tabs = {}
    for order_id in (owing, settled):
        held = (await c.card(order_id, 5000, capture="manual"))["result"]
        await pay.stripe.customer_pays(intent_id(held))
        tabs[order_id] = held
    online, online_total = await c.order_for("Pint of IPA", table="3")
    in_app = (await c.card(online, 5000, capture="manual", present=False))["result"]
    await pay.stripe.customer_pays(intent_id(in_app))
    await c.cash(settled, settled_total)                                     # this one owes nothing now
    await pay.sweep()
    assert {o: (await payment_row(db, t["payment_id"]))["status"] for o, t in tabs.items()} == \
        {owing: "authorised", settled: "authorised"}                          # not old yet

    async def age(hours: int, *payments: dict) -> None:
        await db.run(lambda conn: conn.execute(
            "UPDATE payments SET created_at = now() - make_interval(hours => %s) WHERE id = ANY(%s::uuid[])",
            (hours, [p["payment_id"] for p in payments])))

    # a card presented in person may lapse after 2 days (most brands): settled well before that
    await age(41, *tabs.values(), in_app)
    await pay.sweep()
    assert (await payment_row(db, in_app["payment_id"]))["status"] == "authorised"   # online: 7 days
    await age(145, in_app)
    await pay.sweep()
    assert (await payment_row(db, in_app["payment_id"]))["captured"] == online_total
    captured = await payment_row(db, tabs[owing]["payment_id"])
    released = await payment_row(db, tabs[settled]["payment_id"])
    assert (captured["status"], captured["captured"]) == ("succeeded", owing_total)
    assert pay.stripe.intents[intent_id(tabs[owing])]["amount_received"] == owing_total
    assert (await c.ok("order.get", order_id=owing))["payment_status"] == "paid"
    assert released["status"] == "canceled" and pay.stripe.intents[intent_id(tabs[settled])]["status"] == "canceled"
    await pay.sweep()                                                        # settled once, never twice
    for tab in tabs.values():
        assert len(stripe_posts(pay.stripe, f"/v1/payment_intents/{intent_id(tab)}/capture")
                   + stripe_posts(pay.stripe, f"/v1/payment_intents/{intent_id(tab)}/cancel")) == 1


async def test_a_terminal_gets_a_connection_token(pay: Payments, venue: VenueKit) -> None:
    async with httpx.AsyncClient(base_url=pay.server) as http:
        signed_in = {"Authorization": f"Bearer {venue.token('staff')}"}
        ok = await http.post("/api/v1/stripe/connection_token", headers=signed_in)
        anonymous = await http.post("/api/v1/stripe/connection_token")
    assert ok.status_code == 200 and ok.json()["secret"].startswith("pst_test_")
    assert stripe_posts(pay.stripe, "/v1/terminal/connection_tokens")
    assert anonymous.status_code == 401


async def test_a_card_refund_goes_back_through_stripe(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Scotch egg")
    started = (await c.card(order_id, total, tip=100))["result"]
    await pay.stripe.customer_pays(intent_id(started))
    payment_id = started["payment_id"]
    too_much = await c.refund(order_id, total + 101, payment_id=payment_id)
    assert too_much["error"]["code"] == "validation_error" and pay.stripe.refunds == {}
    refund_id = new_id()
    done = await c.refund(order_id, 500, payment_id=payment_id, refund_id=refund_id)
    assert done["ok"], done
    assert done["result"]["parts"][0]["status"] == "succeeded"
    assert done["result"]["order"]["payment_status"] == "part_refunded"
    [refund] = pay.stripe.refunds.values()
    assert (refund["payment_intent"], refund["amount"]) == (intent_id(started), 500)
    assert stripe_posts(pay.stripe, "/v1/refunds") == [f"fynlo-refund-{refund_id}"]
    again = await c.refund(order_id, 500, payment_id=payment_id, refund_id=refund_id)
    assert again["result"]["parts"] == done["result"]["parts"] and len(pay.stripe.refunds) == 1
    rest = await c.refund(order_id, total + 100 - 500, payment_id=payment_id)   # the tip came in, so it can go back
    assert rest["ok"] and rest["result"]["order"]["payment_status"] == "refunded"
    assert (await payment_row(db, payment_id))["refunded"] == total + 100
    assert sum(r["amount"] for r in pay.stripe.refunds.values()) == total + 100


async def test_a_refund_whose_answer_was_lost_is_finished_by_the_sweep_once(pay: Payments, db: Database,
                                                                            venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Scotch egg")
    started = (await c.card(order_id, total))["result"]
    await pay.stripe.customer_pays(intent_id(started))
    pay.stripe.fail_next("timeout", path_prefix="/v1/refunds")   # Stripe refunds; its answer never comes
    lost = await c.refund(order_id, 300, payment_id=started["payment_id"])
    assert lost["error"]["code"] == "unavailable" and len(pay.stripe.refunds) == 1
    [part] = await rows(db, "SELECT id, status FROM refunds WHERE order_id = %s", order_id)
    assert part["status"] == "pending"
    await pay.sweep()                                                # not yet: the terminal may still retry
    assert (await rows(db, "SELECT status FROM refunds WHERE id = %s", part["id"]))[0]["status"] == "pending"
    await db.run(lambda conn: conn.execute(
        "UPDATE refunds SET created_at = now() - interval '3 minutes' WHERE id = %s", (part["id"],)))
    await pay.sweep()
    [done] = await rows(db, "SELECT status, receipt_number FROM refunds WHERE id = %s", part["id"])
    assert done["status"] == "succeeded" and done["receipt_number"] is not None
    assert len(pay.stripe.refunds) == 1 and (await payment_row(db, started["payment_id"]))["refunded"] == 300
    assert (await c.ok("order.get", order_id=order_id))["payment_status"] == "part_refunded"
    await pay.sweep()                                                # finished once, never twice
    assert len(stripe_posts(pay.stripe, "/v1/refunds")) == 2         # the lost call and the sweep's, one key
    assert len(set(stripe_posts(pay.stripe, "/v1/refunds"))) == 1


async def test_a_split_bill_is_refunded_the_way_it_was_paid(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    till_id = await c.open_till(5000)
    order_id, total = await c.order_for("Scotch egg", "Pint of IPA", "Chips")
    assert total == 1850
    card = (await c.card(order_id, 800))["result"]
    await pay.stripe.customer_pays(intent_id(card))
    qr = (await c.qr(order_id, 600))["result"]
    await pay.bank.customer_pays(bank_request_id(qr))
    assert (await c.cash(order_id, 450))["result"]["order"]["payment_status"] == "paid"

    half = await c.refund(order_id, 925)                                    # no payment named: spread
    assert half["ok"], half
    parts = await rows(db, "SELECT p.method, r.amount, r.status FROM refunds r JOIN payments p ON p.id = r.payment_id"
                           " WHERE r.order_id = %s ORDER BY p.method", order_id)
    assert parts == [{"method": "card", "amount": 400, "status": "succeeded"},
                     {"method": "cash", "amount": 225, "status": "succeeded"},
                     {"method": "open_banking", "amount": 300, "status": "succeeded"}]
    assert [r["amount"] for r in pay.stripe.refunds.values()] == [400]
    assert [(r["payment_request_id"], r["amount"]) for r in pay.bank.refunds.values()] == [(bank_request_id(qr), 300)]
    drawer = await rows(db, "SELECT amount FROM cash_ledger WHERE till_id = %s AND kind = 'refund'", till_id)
    assert drawer == [{"amount": -225}]
    # The reply accounts for the whole refund, the cash part included.
    assert half["result"]["amount"] == 925
    assert sorted(p["amount"] for p in half["result"]["parts"]) == [225, 300, 400]

    over = await c.refund(order_id, 926)                                     # 925 is all that is left
    assert over["error"]["code"] == "validation_error" and over["error"]["details"]["refundable"] == 925
    rest = await c.refund(order_id, 925)
    assert rest["ok"] and rest["result"]["order"]["payment_status"] == "refunded"
    refunded = await rows(db, "SELECT method, captured, refunded FROM payments WHERE order_id = %s ORDER BY method",
                          order_id)
    assert all(r["refunded"] == r["captured"] for r in refunded) and len(refunded) == 3
    assert sum(r["amount"] for r in pay.stripe.refunds.values()) == 800
    assert sum(r["amount"] for r in pay.bank.refunds.values()) == 600
    assert (await c.refund(order_id, 1))["error"]["code"] == "validation_error"


async def test_the_reply_comes_before_its_record_and_nothing_overtakes_the_record(
        pay: Payments, db: Database, venue: VenueKit) -> None:
    """`payment.card_start` answers once Stripe has; the intent is recorded after, in the order's
    mailbox, ahead of whatever the terminal sends next — here a refresh that needs it."""
    c = Cashier(pay.server, venue)
    for _ in range(5):
        order_id, total = await c.order_for("Chips")
        command_id, args = new_id(), {"order_id": order_id, "payment_id": new_id(), "amount": total}
        started = await send(pay.server, c.token, "payment.card_start", command_id, **args)
        assert started["ok"], started
        refreshed = await c.ok("payment.card_refresh", order_id=order_id, payment_id=args["payment_id"])
        assert refreshed["client_secret"] == started["result"]["client_secret"]
        again = await send(pay.server, c.token, "payment.card_start", command_id, **args)
        assert again == started                           # the record stored the very reply given
        row = await payment_row(db, args["payment_id"])
        assert row["provider_ref"] == intent_id(started["result"]) and row["status"] == "pending"


async def test_the_intent_is_asked_for_while_the_pending_payment_commits(database_url: str, settings: Settings,
                                                                        venue: VenueKit) -> None:
    """The call begins as COMMIT goes out (fynlo/commands/calls.py, `early`), not once it is
    answered: with PostgreSQL's answers held back, Stripe hears of the intent well before the
    start's commit is answered, and the reply still waits for that commit."""
    target = psycopg.conninfo.conninfo_to_dict(database_url)
    proxy = TurnProxy((target.get("host") or "127.0.0.1", int(target.get("port") or 5432)))
    async with payments_server(settings, through(database_url, proxy.port)) as pay:
        c = Cashier(pay.server, venue)
        order_id, total = await c.order_for("Chips")
        heard: list[float] = []
        calls = pay.stripe.calls

        class Heard(list):  # type: ignore[type-arg]
            def append(self, call: object) -> None:
                heard.append(time.perf_counter())
                calls.append(call)

        pay.stripe.calls = Heard()
        proxy.delay = HELD_S
        started = (await c.card(order_id, total))["result"]
        answered = time.perf_counter()
        proxy.delay, pay.stripe.calls = 0.0, calls
    assert started["status"] == "pending" and started["client_secret"]
    assert stripe_posts(pay.stripe, "/v1/payment_intents") == [f"fynlo-{started['payment_id']}-create"]
    [asked] = heard
    assert answered - asked > HELD_S * 0.7  # the commit's answer, held back, came after Stripe was asked
    assert (await payment_row_via(database_url, started["payment_id"]))["status"] == "pending"


HELD_S = 0.3


async def payment_row_via(database_url: str, payment_id: str) -> dict:
    async with Database.open(database_url, size=1) as db:
        return await payment_row(db, payment_id)

