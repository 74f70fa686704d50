"""A loopback fake that speaks Stripe's HTTP API, for tests and the demo.

It serves the slice of the API Fynlo uses (PaymentIntents, refunds, Terminal connection
tokens) the way stripe-python expects it: Bearer keys, form-encoded bodies, Stripe's JSON
shapes and error objects, and Idempotency-Key semantics as Stripe documents them (a POST's
status and body are saved once it starts executing and replayed for the same key; the same
key with other parameters or on another endpoint is an `idempotency_error`). Webhook events
are signed exactly as Stripe signs them.

Faults are scripted with `fail_next`: "timeout" executes the request, saves its result and
never answers, which is the case retries with the same key exist for; "5xx" and "rate_limit"
answer at once without executing; "garbled" executes the request and answers 200 with a body
that lacks the object's fields (a proxy or an API change mangling the answer).

Webhooks: while `webhook_url` is set, each event is queued as it happens and POSTed, in
order, by one background task; nothing is retried (a test redelivers with `deliver`).
Imports nothing of fynlo.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Literal
from urllib.parse import parse_qsl

import httpx
import trio
from quart import Response, request
from quart_trio import QuartTrio

from sim._stripe_ledger import ApiError, Json, Ledger, ParamError, decode_form, new_id
from sim.loopback import serving

__all__ = ["StripeFake", "open_stripe_fake"]

FaultMode = Literal["timeout", "5xx", "rate_limit", "garbled"]
DELIVERY_TIMEOUT_S = 10.0
OUTBOX_SIZE = 1000  # events awaiting delivery; a receiver this far behind is a broken test


@dataclass(slots=True)
class _Fault:
    mode: FaultMode
    path_prefix: str
    left: int


@dataclass(frozen=True, slots=True)
class _Saved:
    """The first result for an idempotency key, and what it was asked for."""

    method: str
    path: str
    params: Json
    status: int
    body: Json


@asynccontextmanager
async def open_stripe_fake(*, webhook_url: str | None = None, secret_key: str = "sk_test_fynlo",
                           webhook_secret: str = "whsec_fynlo_test") -> AsyncIterator[StripeFake]:
    """Serve a fresh Stripe account on loopback until the block ends; `fake.url` is its API base.

    Cancellation: leaving the block answers any request hung by a "timeout" fault and drops
    undelivered webhooks; `await fake.settle()` first to keep them.
    """
    async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_S) as http:
        fake = StripeFake(secret_key=secret_key, webhook_secret=webhook_secret, webhook_url=webhook_url, http=http)
        async with trio.open_nursery() as nursery, serving(fake.app) as url:
            fake.url = url
            nursery.start_soon(fake._deliver_queued)
            try:
                yield fake
            finally:
                fake._closing.set()
                nursery.cancel_scope.cancel()


class StripeFake:
    """One Stripe account. Its objects are live dicts in the API's shapes; tests read them."""

    def __init__(self, *, secret_key: str, webhook_secret: str, webhook_url: str | None,
                 http: httpx.AsyncClient) -> None:
        self.url = ""
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.calls: list[tuple[str, str, str | None]] = []
        self.deliveries: list[tuple[str, int]] = []  # (event id, HTTP status; 0 if unreachable)
        self._ledger = Ledger(emit=self._on_event)
        self.intents = self._ledger.intents
        self.charges = self._ledger.charges
        self.refunds = self._ledger.refunds
        self.disputes = self._ledger.disputes
        self.events = self._ledger.events
        self._http = http
        self._saved: dict[str, _Saved] = {}
        self._faults: list[_Fault] = []
        self._held: list[Json] | None = None
        self._outbox, self._inbox = trio.open_memory_channel[tuple[Json, str, trio.Event]](OUTBOX_SIZE)
        self._tail: trio.Event | None = None
        self._closing = trio.Event()
        self.app = QuartTrio("stripe_fake")
        self.app.add_url_rule("/<path:path>", "api", self._api, methods=["GET", "POST", "DELETE"])

    @property
    def clock(self) -> Callable[[], int]:
        """Unix seconds stamped on new objects; replace it to backdate intents."""
        return self._ledger.clock

    @clock.setter
    def clock(self, value: Callable[[], int]) -> None:
        self._ledger.clock = value

    # --- Scripting the world ---------------------------------------------------------------

    def fail_next(self, mode: FaultMode, *, path_prefix: str = "/v1/", count: int = 1) -> None:
        """Make the next `count` API requests under `path_prefix` fail as `mode` (module docstring)."""
        self._faults.append(_Fault(mode, path_prefix, count))

    async def customer_pays(self, intent_id: str, *, decline: str | None = None) -> Json:
        """A card is presented (reader, Tap to Pay, Apple Pay). Automatic capture: succeeded;
        manual: requires_capture; `decline` ("card_declined", "insufficient_funds", ...): the
        intent stays requires_payment_method with last_payment_error set. Returns the intent once
        its events are delivered.

        Raises:
            KeyError: no such intent. ValueError: it is not waiting for a payment method.
        """
        intent = self._ledger.pay(intent_id, decline=decline)
        await self.settle()
        return intent

    async def dispute(self, intent_id: str, *, reason: str = "fraudulent") -> Json:
        """The cardholder disputes the captured charge; returns the dispute (charge.dispute.created)."""
        dispute = self._ledger.dispute(intent_id, reason=reason)
        await self.settle()
        return dispute

    async def expire_authorisation(self, intent_id: str) -> Json:
        """A requires_capture intent lapses: canceled, cancellation_reason "automatic"."""
        intent = self._ledger.expire(intent_id)
        await self.settle()
        return intent

    def hold_webhooks(self) -> list[Json]:
        """Stop delivering: events from now on are appended to the returned list instead, for a
        test to deliver itself (twice, out of order, late). `release_webhooks` resumes."""
        self._held = []
        return self._held

    def release_webhooks(self) -> None:
        """Deliver new events again; the held ones stay with the test."""
        self._held = None

    async def settle(self) -> None:
        """Wait until every event queued so far has been delivered (or found unreachable)."""
        if self._tail is not None:
            await self._tail.wait()

    # --- Webhooks --------------------------------------------------------------------------

    def sign(self, payload: bytes, *, timestamp: int | None = None, secret: str | None = None) -> str:
        """The Stripe-Signature header for `payload`: `t=<unix>,v1=<HMAC-SHA256 of "t.payload">`."""
        stamp = int(time.time()) if timestamp is None else timestamp
        key = (self.webhook_secret if secret is None else secret).encode()
        mac = hmac.new(key, f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={stamp},v1={mac}"

    async def deliver(self, event: Json, *, url: str | None = None, signature: str | None = None,
                      raw: bytes | None = None) -> int:
        """POST one event to `url` (default `webhook_url`) as Stripe does; returns the status, 0 if
        the receiver could not be reached. The body is the event as pretty-printed JSON, signed,
        unless `raw` (sent as is, unsigned) or `signature` (sent as the header; "" sends none)
        is given, so a test can sign or mangle each part itself."""
        target = url or self.webhook_url
        if not target:
            raise ValueError("no url and no webhook_url to deliver to")
        body = json.dumps(event, indent=2).encode() if raw is None else raw
        header = signature if signature is not None else (self.sign(body) if raw is None else "")
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
        if header:
            headers["Stripe-Signature"] = header
        try:
            response = await self._http.post(target, content=body, headers=headers)
            status = response.status_code
        except httpx.TransportError:
            status = 0
        self.deliveries.append((str(event.get("id")), status))
        return status

    def _on_event(self, event: Json) -> None:
        if self._held is not None:
            self._held.append(event)
        elif self.webhook_url:
            self._tail = trio.Event()
            self._outbox.send_nowait((event, self.webhook_url, self._tail))

    async def _deliver_queued(self) -> None:
        async for event, url, done in self._inbox:
            try:
                await self.deliver(event, url=url)
            finally:
                done.set()

    # --- The HTTP API ----------------------------------------------------------------------

    async def _api(self, path: str) -> Response:
        method, path = request.method, "/" + path
        key = request.headers.get("Idempotency-Key")
        self.calls.append((method, path, key))
        request_id = new_id("req_", 14)
        if request.headers.get("Authorization") != f"Bearer {self.secret_key}":
            return _answer(request_id, ApiError(401, "Invalid API Key provided."))
        fault = self._take_fault(path)
        if fault == "5xx":
            return _answer(request_id, ApiError(500, "An unknown error occurred", error_type="api_error"))
        if fault == "rate_limit":
            return _answer(request_id, ApiError(429, "Too many requests hit the API too quickly.", code="rate_limit"))
        raw = await request.get_data() if method == "POST" else request.query_string
        try:
            params = decode_form(parse_qsl(raw.decode(), keep_blank_values=True))
        except ParamError as exc:
            return _answer(request_id, exc)
        status, body, replayed = self._idempotent(method, path, params, key, request_id)
        if fault == "garbled":
            body = {"object": body.get("object")}
        if fault == "timeout":
            await self._closing.wait()
        response = Response(json.dumps(body, indent=2), status, {"Request-Id": request_id},
                            content_type="application/json")
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    def _take_fault(self, path: str) -> FaultMode | None:
        for fault in self._faults:
            if path.startswith(fault.path_prefix):
                fault.left -= 1
                if fault.left <= 0:
                    self._faults.remove(fault)
                return fault.mode
        return None

    def _idempotent(self, method: str, path: str, params: Json, key: str | None,
                    request_id: str) -> tuple[int, Json, bool]:
        """Execute once per key: (status, body, whether it was replayed)."""
        if method != "POST" or key is None:
            status, body, _ = self._execute(method, path, params, key, request_id)
            return status, body, False
        saved = self._saved.get(key)
        if saved is None:
            status, body, began = self._execute(method, path, params, key, request_id)
            if began:
                self._saved[key] = _Saved(method, path, params, status, body)
            return status, body, False
        retry = f"Try using a key other than '{key}' if you meant to execute a different request."
        if (saved.method, saved.path) != (method, path):
            mismatch = ("for the same endpoint they were first used for "
                        f"({saved.method} {saved.path})")
        elif saved.params != params:
            mismatch = "with the same parameters they were first used with"
        else:
            return saved.status, saved.body, True
        error = ApiError(400, f"Keys for idempotent requests can only be used {mismatch}. {retry}",
                         error_type="idempotency_error")
        return error.status, error.body(), False

    def _execute(self, method: str, path: str, params: Json, key: str | None,
                 request_id: str) -> tuple[int, Json, bool]:
        """(status, body, whether the endpoint began executing, so the result is kept)."""
        try:
            return 200, self._ledger.handle(method, path, params, request_id=request_id, idempotency_key=key), True
        except ParamError as exc:
            return exc.status, exc.body(), False
        except ApiError as exc:
            return exc.status, exc.body(), True


def _answer(request_id: str, exc: ApiError) -> Response:
    return Response(json.dumps(exc.body()), exc.status, {"Request-Id": request_id}, content_type="application/json")
