"""Our one door to Stripe: PaymentIntents, refunds, Terminal tokens and webhook verification.

Everything Stripe can say goes through stripe-python's async client (httpx on anyio, so it
runs under Trio) and comes back either as a frozen value here or as a fynlo error:

* card declined                            → PaymentDeclined(decline_code=...)
* unreachable, timed out, 5xx, 429         → ProviderUnavailable(provider="stripe")
* an answer without the object's fields     → ProviderUnavailable(provider="stripe")
* a key reused with other parameters        → Conflict(reason="idempotency_key_reused")
* refused (wrong state, amount too large)   → Conflict(reason="provider_rejected", provider_code=...)
* no such object                            → NotFound(provider="stripe")
* a bad or missing secret key               → ProviderUnavailable("card payments are not configured")

Every POST carries the caller's idempotency key and the client never retries by itself, so
after ProviderUnavailable the outcome is unknown and the caller repeats the same call with the
same key: Stripe then replays the first result instead of charging twice.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, NoReturn

import stripe

from fynlo.errors import BadSignature, Conflict, NotFound, PaymentDeclined, ProviderUnavailable

__all__ = ["Intent", "StripeGateway", "StripeRefund"]

PAGE_SIZE = 100  # Stripe's largest page


@dataclass(frozen=True, slots=True)
class Intent:
    """A PaymentIntent as far as Fynlo cares. `failure` is the last decline's reason."""

    id: str
    status: str
    amount: int
    amount_capturable: int
    amount_received: int
    currency: str
    client_secret: str | None
    capture_method: str
    metadata: dict[str, str]
    created: int
    failure: str | None

    @classmethod
    def from_stripe(cls, obj: stripe.StripeObject | Mapping[str, Any]) -> Intent:
        """From an API response or from a webhook event's plain `data.object`."""
        data = obj.to_dict() if isinstance(obj, stripe.StripeObject) else obj
        error = data.get("last_payment_error") or {}
        return cls(
            id=data["id"], status=data["status"], amount=int(data["amount"]),
            amount_capturable=int(data.get("amount_capturable") or 0),
            amount_received=int(data.get("amount_received") or 0), currency=data["currency"],
            client_secret=data.get("client_secret"), capture_method=data.get("capture_method") or "automatic",
            metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
            created=int(data["created"]), failure=error.get("decline_code") or error.get("code"),
        )


@dataclass(frozen=True, slots=True)
class StripeRefund:
    """A refund Stripe accepted: "succeeded", or "pending" while the card network settles it."""

    id: str
    status: str
    amount: int
    payment_intent: str


class StripeGateway:
    """One Stripe account, reached over HTTPS (or a loopback fake through `api_base`).

    Resource handling: holds an HTTP connection pool; `aclose` releases it.
    Cancellation: a cancelled call may or may not have reached Stripe; repeat it with its key.
    """

    def __init__(self, secret_key: str, *, webhook_secret: str, api_base: str | None = None,
                 timeout_s: float = 20.0) -> None:
        self._webhook_secret = webhook_secret
        self._http = stripe.HTTPXClient(timeout=timeout_s)
        self._client = stripe.StripeClient(
            secret_key, base_addresses={"api": api_base} if api_base else None,
            http_client=self._http, max_network_retries=0,
        )

    def warm_up(self) -> None:
        """Load now what stripe-python loads on first use (the PaymentIntent and Refund classes
        and services, its object table), so that the day's first card payment does not stall
        the event loop for it: about 15 ms of imports on the development machine."""
        v1 = self._client.v1
        v1.payment_intents, v1.refunds, v1.terminal.connection_tokens  # noqa: B018 (loaded on access)
        stripe.convert_to_stripe_object({"object": "payment_intent", "id": "pi_warm_up"})
        stripe.convert_to_stripe_object({"object": "refund", "id": "re_warm_up"})

    async def create_intent(self, *, key: str, amount: int, currency: str, present: bool, manual_capture: bool,
                            metadata: dict[str, str], description: str = "") -> Intent:
        """A PaymentIntent for `amount` minor units. `present`: a card at the counter through
        Stripe Terminal (a reader or Tap to Pay); otherwise card, Apple Pay or Google Pay in-app.
        `manual_capture` authorises now and captures later (tabs, tips)."""
        params: dict[str, Any] = {
            "amount": amount, "currency": currency.lower(), "metadata": metadata,
            "capture_method": "manual" if manual_capture else "automatic",
        }
        if present:
            params["payment_method_types"] = ["card_present"]
        else:
            params["automatic_payment_methods"] = {"enabled": True}
        if description:
            params["description"] = description
        with _translated():
            obj = await self._client.v1.payment_intents.create_async(params=params, options={"idempotency_key": key})
            return Intent.from_stripe(obj)

    async def retrieve_intent(self, intent_id: str) -> Intent:
        """Stripe's current view, for when a webhook is late or a call's outcome is unknown."""
        with _translated():
            return Intent.from_stripe(await self._client.v1.payment_intents.retrieve_async(intent_id))

    async def capture(self, intent_id: str, *, amount: int, key: str) -> Intent:
        """Capture up to the authorised amount; the rest of the hold is released."""
        with _translated():
            obj = await self._client.v1.payment_intents.capture_async(
                intent_id, params={"amount_to_capture": amount}, options={"idempotency_key": key})
            return Intent.from_stripe(obj)

    async def cancel(self, intent_id: str, *, key: str) -> Intent:
        """Void an intent not yet paid, or release an uncaptured authorisation."""
        with _translated():
            obj = await self._client.v1.payment_intents.cancel_async(intent_id, options={"idempotency_key": key})
            return Intent.from_stripe(obj)

    async def refund(self, intent_id: str, *, amount: int, key: str, metadata: dict[str, str]) -> StripeRefund:
        """Give back part or all of what the intent received; Stripe refuses more than is left."""
        with _translated():
            obj = await self._client.v1.refunds.create_async(
                params={"payment_intent": intent_id, "amount": amount, "metadata": metadata},
                options={"idempotency_key": key})
            return StripeRefund(id=obj.id, status=str(obj.status), amount=int(obj.amount),
                                payment_intent=str(obj.payment_intent))

    async def list_intents(self, *, created_gte: int, created_lt: int, page_size: int = PAGE_SIZE) -> list[Intent]:
        """Every intent created in [created_gte, created_lt), newest first, across all pages
        (for reconciliation against our own payments)."""
        with _translated():
            page = await self._client.v1.payment_intents.list_async(
                params={"created": {"gte": created_gte, "lt": created_lt}, "limit": page_size})
            return [Intent.from_stripe(obj) async for obj in page.auto_paging_iter()]

    async def connection_token(self) -> str:
        """A short-lived secret a Stripe Terminal SDK (reader or Tap to Pay) connects with."""
        with _translated():
            token = await self._client.v1.terminal.connection_tokens.create_async()
            return str(token.secret)

    def verify_webhook(self, payload: bytes, signature: str | None, *, tolerance_s: int = 300) -> dict[str, Any]:
        """The event in a webhook body, once its Stripe-Signature proves it is Stripe's and recent.

        Pass the body exactly as received: the signature covers its bytes, so a re-serialised
        body fails. Any v1 signature may match (Stripe sends one per secret while rolling).

        Raises:
            BadSignature: no or malformed header, no matching v1, a timestamp more than
                `tolerance_s` from now either way, or a body that is not a JSON event.
        """
        try:
            stripe.WebhookSignature.verify_header(payload, signature, self._webhook_secret, tolerance_s)
        except stripe.SignatureVerificationError as exc:
            raise BadSignature(exc.user_message or "invalid Stripe-Signature") from None
        except UnicodeDecodeError:
            raise BadSignature("webhook body is not UTF-8") from None
        # The library bounds only the past; a timestamp from the future is as suspect.
        stamp = next(int(part[2:]) for part in (signature or "").split(",") if part.startswith("t="))
        if stamp > time.time() + tolerance_s:
            raise BadSignature(f"Timestamp outside the tolerance zone ({stamp})")
        try:
            event = json.loads(payload)
        except ValueError:
            raise BadSignature("webhook body is not JSON") from None
        if not isinstance(event, dict) or event.get("object") != "event" or not isinstance(event.get("data"), dict):
            raise BadSignature("webhook body is not a Stripe event")
        return event

    async def aclose(self) -> None:
        await self._http.close_async()


@contextmanager
def _translated() -> Iterator[None]:
    """Turn stripe-python's exceptions into fynlo's at this boundary (module docstring), and
    an answer that lacks what we read from it into "unavailable": the call may have been made,
    so it is repeated with its key, as after a timeout."""
    try:
        yield
    except stripe.StripeError as exc:
        _raise_for(exc)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ProviderUnavailable("Stripe's answer could not be read", provider="stripe") from exc


def _raise_for(exc: stripe.StripeError) -> NoReturn:
    message = exc.user_message or type(exc).__name__
    code = exc.code or (exc.error.code if exc.error else None)
    if isinstance(exc, stripe.CardError):
        decline = (exc.error.decline_code if exc.error else None) or code
        raise PaymentDeclined(message, decline_code=decline) from exc
    if isinstance(exc, stripe.IdempotencyError):
        raise Conflict(message, reason="idempotency_key_reused") from exc
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        raise ProviderUnavailable("card payments are not configured", provider="stripe") from exc
    if isinstance(exc, stripe.APIConnectionError):
        raise ProviderUnavailable("Stripe could not be reached or did not answer in time", provider="stripe") from exc
    if isinstance(exc, stripe.InvalidRequestError):
        if exc.http_status == 404:
            raise NotFound(message, provider="stripe", provider_code=code) from exc
        raise Conflict(message, reason="provider_rejected", provider_code=code) from exc
    raise ProviderUnavailable(f"Stripe failed: {message}", provider="stripe") from exc  # 5xx, 429
