"""Stripe's webhooks through a real server: only signed, recent, well-formed events about our
own payments are applied, each once, in whatever order they come; disputes and refunds made
behind our back are flagged for review."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import httpx
import trio

from fynlo.db import Database
from tests.payment_kit import (
    Cashier,
    Payments,
    event_names,
    intent_id,
    payment_row,
    rows,
)
from tests.support import VenueKit




async def started_card(pay: Payments, venue: VenueKit, **args: Any) -> tuple[Cashier, str, dict[str, Any]]:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Scotch egg")
    return c, order_id, (await c.card(order_id, total, **args))["result"]


async def paid_unheard(pay: Payments, venue: VenueKit) -> tuple[Cashier, str, dict[str, Any], dict[str, Any]]:
    """A card Stripe took whose `payment_intent.succeeded` we hold back, to deliver as the test likes."""
    c, order_id, started = await started_card(pay, venue)
    held = pay.stripe.hold_webhooks()
    await pay.stripe.customer_pays(intent_id(started))
    [succeeded] = held
    return c, order_id, started, succeeded


async def footprint(db: Database, venue_id: str) -> dict[str, Any]:
    """What an applied event would change: the venue's event log and the provider events kept."""
    [seq] = await rows(db, "SELECT last_seq FROM venues WHERE id = %s", venue_id)
    kept = await rows(db, "SELECT count(*) AS n FROM provider_events WHERE venue_id = %s", venue_id)
    return {**seq, **kept[0]}


async def test_untrusted_or_malformed_events_are_refused_and_change_nothing(pay: Payments, db: Database,
                                                                           venue: VenueKit) -> None:
    c, order_id, started, succeeded = await paid_unheard(pay, venue)
    body = json.dumps(succeeded).encode()
    before = await footprint(db, venue.venue_id)
    now = int(time.time())

    def signed(raw: bytes) -> dict[str, Any]:
        return {"raw": raw, "signature": pay.stripe.sign(raw)}

    def event(**changes: Any) -> bytes:
        return json.dumps({**copy.deepcopy(succeeded), **changes}).encode()

    unknown = copy.deepcopy(succeeded)
    unknown["data"]["object"].update(id="pi_never_made_by_us", metadata={})
    garbled = copy.deepcopy(unknown)
    garbled["data"]["object"]["metadata"] = {"payment_id": "not-a-uuid"}
    hollow = copy.deepcopy(succeeded)
    hollow["data"]["object"] = {"id": intent_id(started), "metadata": succeeded["data"]["object"]["metadata"]}
    attempts = {
        "wrong secret": {"raw": body, "signature": pay.stripe.sign(body, secret="whsec_someone_else")},
        "no header": {"raw": body, "signature": ""},
        "no v1": {"raw": body, "signature": pay.stripe.sign(body).split(",v1=")[0]},
        "re-serialised body": {"raw": body, "signature": pay.stripe.sign(json.dumps(succeeded, indent=2).encode())},
        "tampered body": {"raw": body.replace(b'"succeeded"', b'"canceled"'), "signature": pay.stripe.sign(body)},
        "301 s old": {"raw": body, "signature": pay.stripe.sign(body, timestamp=now - 301)},
        # (the clock moves on while the attempts are delivered, so "ahead" keeps a margin)
        "310 s ahead": {"raw": body, "signature": pay.stripe.sign(body, timestamp=now + 310)},
        "not json": signed(b"{not json"),
        "not an event": signed(b'["payment_intent.succeeded"]'),
        "no event id": signed(json.dumps({k: v for k, v in succeeded.items() if k != "id"}).encode()),
        "no object": signed(event(data={})),
        "an object without its fields": signed(json.dumps(hollow).encode()),
        "unknown intent": signed(json.dumps(unknown).encode()),
        "unknown intent, garbled claim": signed(json.dumps(garbled).encode()),
    }
    statuses = {name: await pay.stripe.deliver(succeeded, **how) for name, how in attempts.items()}
    assert statuses == {name: 400 for name in attempts}
    assert await footprint(db, venue.venue_id) == before
    assert (await payment_row(db, started["payment_id"]))["status"] == "pending"

    # The genuine event still applies, also beside a signature that matches nothing (Stripe
    # sends one v1 per secret while a secret is being rolled).
    pretty = json.dumps(succeeded, indent=2).encode()
    stamp, v1 = pay.stripe.sign(pretty).split(",")
    assert await pay.stripe.deliver(succeeded, raw=pretty, signature=f"{stamp},v1={'0' * 64},{v1}") == 200
    assert (await c.ok("order.get", order_id=order_id))["payment_status"] == "paid"


async def test_the_same_event_applies_once_however_often_it_comes(pay: Payments, db: Database,
                                                                  venue: VenueKit) -> None:
    c, order_id, started, succeeded = await paid_unheard(pay, venue)
    statuses: list[int] = []

    async def deliver() -> None:
        statuses.append(await pay.stripe.deliver(succeeded))

    async with trio.open_nursery() as nursery:
        for _ in range(5):
            nursery.start_soon(deliver)
    await deliver()
    await deliver()
    assert statuses == [200] * 7
    names = await event_names(db, venue.venue_id, started["payment_id"])
    assert names.count("payment.succeeded") == 1
    assert len(await rows(db, "SELECT 1 FROM print_jobs WHERE order_id = %s AND kind = 'receipt'", order_id)) == 1
    paid = (await payment_row(db, started["payment_id"]))["amount"]
    assert (await c.ok("order.get", order_id=order_id))["paid"] == paid


async def test_a_late_decline_does_not_undo_a_success(pay: Payments, db: Database, venue: VenueKit) -> None:
    c, order_id, started = await started_card(pay, venue)
    held = pay.stripe.hold_webhooks()
    await pay.stripe.customer_pays(intent_id(started), decline="card_declined")
    await pay.stripe.customer_pays(intent_id(started))               # the second card works
    failed, succeeded = held
    assert (failed["type"], succeeded["type"]) == ("payment_intent.payment_failed", "payment_intent.succeeded")
    assert await pay.stripe.deliver(succeeded) == 200
    assert await pay.stripe.deliver(failed) == 200
    row = await payment_row(db, started["payment_id"])
    assert row["status"] == "succeeded" and (await c.ok("order.get", order_id=order_id))["payment_status"] == "paid"
    names = await event_names(db, venue.venue_id, started["payment_id"])
    assert names == ["payment.started", "payment.succeeded"]         # no "declined" after it was paid


async def test_a_late_authorisation_does_not_undo_a_capture(pay: Payments, db: Database, venue: VenueKit) -> None:
    c, order_id, started = await started_card(pay, venue, capture="manual")
    held = pay.stripe.hold_webhooks()
    payment_id = started["payment_id"]
    await pay.stripe.customer_pays(intent_id(started))
    assert (await c.ok("payment.card_refresh", order_id=order_id, payment_id=payment_id))["status"] == "authorised"
    total = (await c.ok("order.get", order_id=order_id))["totals"]["total"]
    await c.ok("payment.card_capture", order_id=order_id, payment_id=payment_id, amount=total)
    authorised, succeeded = held
    assert authorised["type"] == "payment_intent.amount_capturable_updated"
    assert await pay.stripe.deliver(succeeded) == 200
    assert await pay.stripe.deliver(authorised) == 200
    row = await payment_row(db, payment_id)
    assert (row["status"], row["captured"]) == ("succeeded", total)
    assert (await event_names(db, venue.venue_id, payment_id)).count("payment.authorised") == 1


async def test_a_dispute_flags_the_payment(pay: Payments, db: Database, venue: VenueKit) -> None:
    c, order_id, started = await started_card(pay, venue)
    await pay.stripe.customer_pays(intent_id(started))
    await pay.stripe.dispute(intent_id(started), reason="fraudulent")
    row = await payment_row(db, started["payment_id"])
    assert row["status"] == "succeeded" and row["needs_review"] and "fraudulent" in row["review_reason"]
    disputed = await rows(db, "SELECT data FROM events WHERE venue_id = %s AND name = 'payment.disputed'",
                          venue.venue_id)
    assert [d["data"]["dispute"]["reason"] for d in disputed] == ["fraudulent"]
    listed = await c.ok("payment.list", order_id=order_id)
    assert listed["payments"][0]["needs_review"] is True


async def test_a_refund_made_outside_fynlo_is_flagged(pay: Payments, db: Database, venue: VenueKit) -> None:
    c, order_id, started = await started_card(pay, venue)
    intent = intent_id(started)
    await pay.stripe.customer_pays(intent)
    ours = await c.refund(order_id, 300, payment_id=started["payment_id"])
    assert ours["ok"], ours
    await pay.stripe.settle()
    assert not (await payment_row(db, started["payment_id"]))["needs_review"]   # our own refund is no surprise

    async with httpx.AsyncClient(base_url=pay.stripe.url) as http:                # someone uses Stripe's dashboard
        made = await http.post("/v1/refunds", data={"payment_intent": intent, "amount": "200"},
                               headers={"Authorization": f"Bearer {pay.stripe.secret_key}"})
    assert made.status_code == 200
    await pay.stripe.settle()
    row = await payment_row(db, started["payment_id"])
    assert row["needs_review"] and row["review_reason"] == "200 refunded outside Fynlo" and row["refunded"] == 300
    assert "payment.review" in await event_names(db, venue.venue_id, started["payment_id"])
