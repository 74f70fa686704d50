"""Open-banking QR payments through the simulated bank, end to end through a real server:
the request and its code, the signed callback, expiry by the sweep, late money, retries."""

from __future__ import annotations

from datetime import datetime, timedelta
from xml.etree import ElementTree


from fynlo.db import Database
from fynlo.payments.qr import qr_svg
from tests.payment_kit import (
    Cashier,
    Payments,
    bank_request_id,
    event_names,
    intent_id,
    payment_row,
    rows,
    send,
)
from tests.support import VenueKit, new_id




async def test_a_qr_payment_is_paid_by_the_banks_callback(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Scotch egg", "Pint of IPA")
    other_id, other_total = await c.order_for("Chips", table="2")
    shown = (await c.qr(order_id, total))["result"]
    other = (await c.qr(other_id, other_total))["result"]
    assert shown["status"] == "pending" and shown["qr_url"].startswith(f"{pay.bank.url}/pay/")
    assert ElementTree.fromstring(shown["qr_svg"]).tag == "{http://www.w3.org/2000/svg}svg"
    assert shown["qr_svg"] == qr_svg(shown["qr_url"]) != other["qr_svg"]      # the code of this request's page
    expires = datetime.fromisoformat(shown["expires_at"]) - datetime.fromisoformat(shown["created_at"])
    assert expires == timedelta(minutes=15)
    assert shown["reference"] != other["reference"]
    request = pay.bank.requests[bank_request_id(shown)]
    assert (request["amount"], request["reference"]) == (total, shown["reference"])
    assert request["metadata"]["payment_id"] == shown["payment_id"]
    assert (await c.ok("order.get", order_id=order_id))["payment_status"] == "unpaid"

    await pay.bank.customer_pays(request["id"])            # signed callback; nobody presses "paid"
    row = await payment_row(db, shown["payment_id"])
    assert row["status"] == "succeeded" and row["receipt_number"] is not None and not row["needs_review"]
    assert (await c.ok("order.get", order_id=order_id))["payment_status"] == "paid"
    assert await event_names(db, venue.venue_id, shown["payment_id"]) == \
        ["payment.started", "payment.qr_ready", "payment.succeeded"]
    [receipt] = await rows(db, "SELECT document FROM print_jobs WHERE order_id = %s AND kind = 'receipt'", order_id)
    assert receipt["document"]["payments"][0]["reference"] == shown["reference"]

    await pay.bank.customer_declines(bank_request_id(other))
    assert (await payment_row(db, other["payment_id"]))["status"] == "failed"


async def test_an_expired_request_frees_the_order_and_late_money_is_flagged(pay: Payments, db: Database,
                                                                            venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Scotch egg")
    shown = (await c.qr(order_id, total))["result"]
    blocked = await c.card(order_id, total)                 # the QR on screen may still bring it in
    assert blocked["error"]["details"]["reason"] == "nothing_due"
    await db.run(lambda conn: conn.execute(
        "UPDATE payments SET expires_at = now() - interval '1 second' WHERE id = %s", (shown["payment_id"],)))
    await pay.sweep()
    assert (await payment_row(db, shown["payment_id"]))["status"] == "expired"
    assert "payment.expired" in await event_names(db, venue.venue_id, shown["payment_id"])

    card = (await c.card(order_id, total))["result"]        # the customer pays by card instead
    await pay.stripe.customer_pays(intent_id(card))
    assert (await c.ok("order.get", order_id=order_id))["payment_status"] == "paid"

    callback = await pay.bank.customer_pays(bank_request_id(shown), deliver=False)   # then their bank pays too
    assert await pay.bank.deliver(callback) == 200
    row = await payment_row(db, shown["payment_id"])
    assert row["status"] == "succeeded" and row["needs_review"] and "expired" in row["review_reason"]
    assert "payment.review" in await event_names(db, venue.venue_id, shown["payment_id"])
    listed = await c.ok("payment.list", order_id=order_id)
    assert sum(p["needs_review"] for p in listed["payments"]) == 1


async def test_a_retry_after_a_bank_timeout_shows_the_same_request(pay: Payments, db: Database,
                                                                    venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Chips")
    command_id, args = new_id(), {"order_id": order_id, "payment_id": new_id(), "amount": total}
    pay.bank.fail_next("timeout")                           # the bank makes the request, then never answers
    timed_out = await send(pay.server, c.token, "payment.qr_start", command_id, **args)
    assert timed_out["error"]["code"] == "unavailable"
    assert len(pay.bank.requests) == 1
    retried = await send(pay.server, c.token, "payment.qr_start", command_id, **args)
    assert retried["ok"], retried
    [made] = pay.bank.requests
    assert bank_request_id(retried["result"]) == made and len(pay.bank.requests) == 1
    keys = [key for method, path, key in pay.bank.calls if method == "POST" and path == "/v1/payment-requests"]
    assert keys == [f"fynlo-{args['payment_id']}-request"] * 2
    await pay.bank.customer_pays(made)
    assert (await payment_row(db, args["payment_id"]))["status"] == "succeeded"


async def test_a_bank_callback_must_be_signed(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Chips")
    shown = (await c.qr(order_id, total))["result"]
    callback = await pay.bank.customer_pays(bank_request_id(shown), deliver=False)
    forged = [await pay.bank.deliver(callback, signature="t=1,v1=deadbeef"),
              await pay.bank.deliver(callback, signature=""),
              await pay.bank.deliver(callback, signature=pay.bank.sign(b"{}"))]
    stranger = {**callback, "id": "cb_stranger", "data": {**callback["data"], "id": "pr_not_ours", "metadata": {}}}
    forged.append(await pay.bank.deliver(stranger))                  # signed, but about no payment of ours
    forged.append(await pay.bank.deliver(callback, raw=b"{not json"))  # signed, but not a callback
    forged.append(await pay.bank.deliver({**callback, "data": "paid"}))
    assert forged == [400] * 6
    assert (await payment_row(db, shown["payment_id"]))["status"] == "pending"
    assert await rows(db, "SELECT 1 FROM provider_events WHERE venue_id = %s", venue.venue_id) == []
    assert await pay.bank.deliver(callback) == 200
    assert await pay.bank.deliver(callback) == 200         # twice: applied once
    assert (await event_names(db, venue.venue_id, shown["payment_id"])).count("payment.succeeded") == 1


async def test_a_qr_refund_goes_back_through_the_bank(pay: Payments, db: Database, venue: VenueKit) -> None:
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Scotch egg")
    shown = (await c.qr(order_id, total))["result"]
    await pay.bank.customer_pays(bank_request_id(shown))
    refund_id = new_id()
    done = await c.refund(order_id, 250, payment_id=shown["payment_id"], refund_id=refund_id)
    assert done["ok"], done
    assert done["result"]["parts"][0]["status"] == "succeeded" and pay.stripe.refunds == {}
    [refund] = pay.bank.refunds.values()
    assert (refund["payment_request_id"], refund["amount"]) == (bank_request_id(shown), 250)
    again = await c.refund(order_id, 250, payment_id=shown["payment_id"], refund_id=refund_id)
    assert again["result"]["parts"] == done["result"]["parts"] and len(pay.bank.refunds) == 1
    over = await c.refund(order_id, total - 249, payment_id=shown["payment_id"])
    assert over["error"]["code"] == "validation_error" and len(pay.bank.refunds) == 1
    assert (await payment_row(db, shown["payment_id"]))["refunded"] == 250


async def test_the_qr_reply_is_the_one_recorded(pay: Payments, db: Database, venue: VenueKit) -> None:
    """The reply comes once the bank has answered; the request is recorded behind it, in the
    order's mailbox, and a retry gets that same reply back."""
    c = Cashier(pay.server, venue)
    order_id, total = await c.order_for("Chips")
    command_id, args = new_id(), {"order_id": order_id, "payment_id": new_id(), "amount": total}
    shown = await send(pay.server, c.token, "payment.qr_start", command_id, **args)
    assert shown["ok"], shown
    [made] = pay.bank.requests
    assert shown["result"]["qr_svg"].startswith("<svg") and shown["result"]["qr_url"] == pay.bank.requests[made]["url"]
    order = await c.ok("order.get", order_id=order_id)     # queued behind the record
    assert order["payment_status"] == "unpaid"
    assert await send(pay.server, c.token, "payment.qr_start", command_id, **args) == shown
    row = await payment_row(db, args["payment_id"])
    assert row["provider_ref"] == bank_request_id(shown["result"]) and row["details"]["qr_url"] == shown["result"]["qr_url"]
    assert await event_names(db, venue.venue_id, args["payment_id"]) == ["payment.started", "payment.qr_ready"]
