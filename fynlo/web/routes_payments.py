"""Provider callbacks and the Stripe Terminal connection token.

`POST /api/v1/webhooks/stripe` and `POST /api/v1/webhooks/openbanking` take the raw body and
its signature header, verify both (HMAC-SHA256, 5-minute tolerance) before reading anything,
and hand the event to the payment's order actor (fynlo/payments/callbacks.py). Answers:
400 — bad signature, old timestamp, malformed body, or an intent we never made (nothing is
written); 200 — applied, already applied, or an event type we do not use; 503 — the venue runs
on another server or the database is down, so the provider retries later (Stripe retries for
three days), and an event is never lost.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from quart import Blueprint, request
from quart_schema import document_response

from fynlo.auth.routes import bearer_principal
from fynlo.errors import BadSignature, Forbidden
from fynlo.payments.callbacks import PROVIDER_EVENT, command_for
from fynlo.payments.stripe_gateway import Intent
from fynlo.web.context import services
from fynlo.web.errors import error_body

bp = Blueprint("payments", __name__)

STRIPE_TYPES = frozenset({
    "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
    "payment_intent.amount_capturable_updated", "charge.refunded", "charge.dispute.created",
})
BANK_TYPES = frozenset({"payment_request.paid", "payment_request.declined"})


class WebhookReply(BaseModel):
    received: bool
    applied: bool | None = None


class ConnectionToken(BaseModel):
    secret: str


def _stripe_subject(event: dict[str, Any]) -> tuple[str, str, str | None, dict[str, Any]]:
    """(event id, the intent it is about, the payment id its metadata claims, its object).

    Everything the order actor will read is checked here, so a signed but malformed event is
    refused with a 400 before anything is written, rather than crashing the order's actor.
    """
    try:
        obj = event["data"]["object"]
        if event["type"].startswith("payment_intent."):
            ref = Intent.from_stripe(obj).id          # reads every field apply_intent will use
        else:                                         # a charge or a dispute names its intent
            ref = str(obj["payment_intent"])
            if event["type"] == "charge.refunded":
                int(obj["amount_refunded"])
        claimed = (obj.get("metadata") or {}).get("payment_id")
        return str(event["id"]), ref, claimed, obj
    except (KeyError, TypeError, AttributeError, ValueError):
        raise BadSignature("the event is not a well-formed payment event", reason="malformed") from None


def _uuid_or_none(value: Any) -> str | None:
    """A payment id claimed in metadata, if it is one at all (anything else claims nothing)."""
    try:
        return str(uuid.UUID(str(value))) if value else None
    except ValueError:
        return None


async def _payment_for(method: str, ref: str, claimed_payment_id: str | None) -> dict[str, Any] | None:
    """Our payment behind a provider reference; by the id we put in its metadata when the
    reference itself never reached our database (we crashed before recording it)."""
    db = services().db
    claimed_payment_id = _uuid_or_none(claimed_payment_id)

    def find(conn: Any) -> dict[str, Any] | None:
        row = conn.execute("SELECT id, venue_id, order_id FROM payments WHERE method = %s AND provider_ref = %s",
                           (method, ref)).fetchone()
        if row is None and claimed_payment_id:
            row = conn.execute("SELECT id, venue_id, order_id FROM payments WHERE id = %s::uuid AND method = %s"
                               " AND (provider_ref IS NULL OR provider_ref = %s)",
                               (claimed_payment_id, method, ref)).fetchone()
        return row

    return await db.run(find)   # a database that is down answers 503: the provider retries


async def _apply(provider: str, event_id: str, event_type: str, method: str, ref: str, claimed: str | None,
                 data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    payment = await _payment_for(method, ref, claimed)
    if payment is None:
        raise BadSignature("the event names a payment this server never made", reason="unknown_payment", ref=ref)
    args = {"order_id": str(payment["order_id"]), "payment_id": str(payment["id"]), "provider": provider,
            "event_id": event_id, "event_type": event_type, "data": data}
    command = command_for(PROVIDER_EVENT.name, f"{provider}:{event_id}", args)
    reply = await services().extras["dispatcher"].system(str(payment["venue_id"]), PROVIDER_EVENT, command)
    if not reply["ok"]:
        error = reply["error"]
        status = 503 if error["code"] in ("unavailable", "internal_error") else 422
        return error_body(error["code"], error["message"], error.get("details")), status
    return {"received": True, "applied": reply["result"].get("applied")}, 200


@bp.post("/api/v1/webhooks/stripe")
@document_response(WebhookReply, 200)
async def stripe_webhook() -> tuple[dict[str, Any], int]:
    """Stripe's events, verified by the Stripe-Signature header."""
    raw = await request.get_data()
    event = services().extras["providers"].stripe.verify_webhook(raw, request.headers.get("Stripe-Signature"))
    if event.get("type") not in STRIPE_TYPES:
        return {"received": True, "applied": False}, 200
    event_id, ref, claimed, obj = _stripe_subject(event)
    return await _apply("stripe", event_id, event["type"], "card", ref, claimed, obj)


@bp.post("/api/v1/webhooks/openbanking")
@document_response(WebhookReply, 200)
async def bank_webhook() -> tuple[dict[str, Any], int]:
    """The bank's callbacks, verified by the Bank-Signature header."""
    raw = await request.get_data()
    event = services().extras["providers"].bank.verify_callback(raw, request.headers.get("Bank-Signature"))
    if event.get("type") not in BANK_TYPES:
        return {"received": True, "applied": False}, 200
    try:
        data = event["data"]
        ref, claimed = str(data["id"]), (data.get("metadata") or {}).get("payment_id")
        event_id = str(event["id"])
    except (KeyError, TypeError, AttributeError):
        raise BadSignature("the callback has no payment request", reason="malformed") from None
    return await _apply("bank", event_id, event["type"], "open_banking", ref, claimed, data)


@bp.post("/api/v1/stripe/connection_token")
@document_response(ConnectionToken, 200)
async def connection_token() -> tuple[dict[str, Any], int]:
    """A Stripe Terminal connection token for a signed-in terminal (Tap to Pay, readers)."""
    principal = await bearer_principal()
    if principal.terminal_id is None:
        raise Forbidden("only a terminal can connect a card reader", reason="not_a_terminal")
    return {"secret": await services().extras["providers"].stripe.connection_token()}, 200
