"""Reconciliation with Stripe, the platform-fee ledger and tips by staff, through a real server."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


from fynlo.db import Database
from tests.payment_kit import Cashier, Payments, rows
from tests.support import VenueKit, new_id




def today() -> str:
    return datetime.now(ZoneInfo("Europe/London")).date().isoformat()


async def card_paid(c: Cashier, p: Payments, order_id: str, amount: int, tip: int = 0) -> dict:
    started = await c.ok("payment.card_start", order_id=order_id, payment_id=new_id(), amount=amount, tip=tip,
                         present=True)
    intent_id = started["client_secret"].split("_secret_")[0]
    await p.stripe.customer_pays(intent_id)
    return started


async def test_reconcile_repairs_what_a_lost_webhook_left_behind(pay: Payments, db: Database,
                                                                 venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Scotch egg", "Chips")
    held = pay.stripe.hold_webhooks()           # the webhook is lost
    started = await card_paid(c, pay, order_id, total)
    assert any(e["type"] == "payment_intent.succeeded" for e in held)
    order = await c.ok("order.get", order_id=order_id)
    assert order["payment_status"] == "unpaid"     # Stripe took it; we have not heard
    manager = Cashier(pay.server, venue, "manager")
    day = order["business_date"]
    report = await manager.ok("payment.reconcile", day=day)
    assert report["repaired"] == [{"payment_id": started["payment_id"], "order_id": order_id, "from": "pending",
                                   "to": "succeeded", "intent": started["client_secret"].split("_secret_")[0]}]
    assert report["unmatched_intents"] == [] and report["missing_at_stripe"] == []
    assert (await c.ok("order.get", order_id=order_id))["payment_status"] == "paid"
    receipts = await rows(db, "SELECT id FROM print_jobs WHERE order_id = %s AND kind = 'receipt'", order_id)
    assert len(receipts) == 1
    again = await manager.ok("payment.reconcile", day=day)
    assert again["repaired"] == [] and again["checked"] == report["checked"]
    # the order's actor, which last saw it unpaid, judges the next command on what is stored
    assert (await c.ok("order.complete", order_id=order_id))["status"] == "completed"
    pay.stripe.release_webhooks()               # the late webhook changes nothing now
    await pay.stripe.settle()
    assert len(await rows(db, "SELECT id FROM print_jobs WHERE order_id = %s AND kind = 'receipt'", order_id)) == 1
    staff = await c("payment.reconcile", day=day)
    assert staff["error"]["code"] == "forbidden"


async def test_fee_ledger_and_tips_by_staff(pay: Payments, db: Database, venue: VenueKit) -> None:
    manager = Cashier(pay.server, venue, "manager")
    await manager.ok("venue.update", platform_fee_percent="1.00")
    c = Cashier(pay.server, venue)
    await c.open_till()
    cash_order, cash_total = await c.order_for("Chips")
    assert (await c.cash(cash_order, cash_total, tip=100, tendered=cash_total + 100))["ok"]
    card_order, card_total = await c.order_for("Scotch egg", table="2")
    await card_paid(c, pay, card_order, card_total, tip=150)
    await pay.stripe.settle()
    paid = await rows(db, "SELECT method, captured, processing_fee, platform_fee, tip FROM payments"
                          " WHERE venue_id = %s ORDER BY method", venue.venue_id)
    card = next(p for p in paid if p["method"] == "card")
    assert card["captured"] == card_total + 150
    assert card["processing_fee"] == round((card_total + 150) * 0.029) + 30
    assert card["platform_fee"] == round((card_total + 150) * 0.01)
    assert next(p for p in paid if p["method"] == "cash")["platform_fee"] == 0
    ledger = await manager.ok("report.platform_fees", date_from=today(), date_to=today())
    assert ledger["totals"]["platform"] == card["platform_fee"] and ledger["totals"]["payments"] == 2
    tips = await manager.ok("report.tips", date_from=today(), date_to=today())
    staff_id = venue.people["staff"].staff_id
    assert {(r["staff_id"], r["method"], r["tips"]) for r in tips["rows"]} == {(staff_id, "cash", 100),
                                                                                (staff_id, "card", 150)}
    assert (await c("report.tips", date_from=today(), date_to=today()))["error"]["code"] == "forbidden"


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


async def test_no_card_number_is_ever_stored(pay: Payments, db: Database, venue: VenueKit) -> None:
    """After card payments, nothing we keep (events, payments, jobs, idempotency replies) holds
    a Luhn-valid 13–19 digit number."""
    import re

    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Chips")
    await card_paid(c, pay, order_id, total)
    await pay.stripe.settle()
    texts = await rows(db, "SELECT data::text AS t FROM events WHERE venue_id = %s UNION ALL"
                           " SELECT row_to_json(p)::text FROM payments p WHERE venue_id = %s UNION ALL"
                           " SELECT document::text FROM print_jobs WHERE venue_id = %s UNION ALL"
                           " SELECT reply::text FROM idempotency WHERE venue_id = %s",
                       venue.venue_id, venue.venue_id, venue.venue_id, venue.venue_id)
    assert len(texts) > 10
    candidates = [m for r in texts for m in re.findall(r"(?<!\d)\d{13,19}(?!\d)", r["t"])]
    assert not [m for m in candidates if luhn_valid(m)]


async def test_a_surcharge_where_allowed_is_a_separate_line_the_customer_may_decline(
        pay: Payments, db: Database, venue: VenueKit) -> None:
    manager = Cashier(pay.server, venue, "manager")
    await manager.ok("venue.update", fees_to_customer=True)
    c = Cashier(pay.server, venue)
    quote = {m["method"]: m for m in (await c.ok("payment.quote", amount=1000))["methods"]}
    assert quote["card"]["surcharge"] == 59 and quote["card"]["customer_pays"] == 1059
    assert quote["card"]["surcharge_optional"] is True and quote["cash"]["surcharge"] == 0
    order_id, total = await c.order_for("Chips")
    charged = await c.ok("payment.card_start", order_id=order_id, payment_id=new_id(), amount=total)
    intent = pay.stripe.intents[charged["client_secret"].split("_secret_")[0]]
    assert charged["surcharge"] > 0 and intent["amount"] == total + charged["surcharge"]
    await pay.stripe.customer_pays(intent["id"])
    order = await c.ok("order.get", order_id=order_id)
    assert order["paid"] == total and order["payment_status"] == "paid"     # the fee is not part of the bill
    other_id, other_total = await c.order_for("Chips", table="2")
    declined = await c.ok("payment.card_start", order_id=other_id, payment_id=new_id(), amount=other_total,
                          decline_surcharge=True)
    assert declined["surcharge"] == 0 and declined["fee_declined"] is True
    assert pay.stripe.intents[declined["client_secret"].split("_secret_")[0]]["amount"] == other_total
