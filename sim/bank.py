"""A simulated open-banking provider: payment requests a customer pays from a QR code, then signed callbacks.

It speaks HTTP on loopback, the way a real provider would, so Fynlo's client (HttpBank) is tested
over the wire against this bank. Like every third party it imports nothing of `fynlo`.

The faults it can inject are the ones that matter when money moves. `fail_next("timeout")`
executes the call and saves its answer under the idempotency key, then never replies: the
client cannot know whether the request exists, so it has to retry with the same key.
`fail_next("5xx")` answers 500 without executing anything. A customer may also pay after
`expires_at`. Banks accept late payments and report them honestly (`paid_at` later than
`expires_at`), so the till has to cope with money that arrives after it gave up waiting.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import html
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import trio
from quart import Response, request
from quart_trio import QuartTrio

from sim.loopback import serving

__all__ = ["SimBank", "open_sim_bank"]

Json = dict[str, Any]
Answer = tuple[Json, int]

CALLBACK_TIMEOUT_S = 5.0
CALLBACK_ATTEMPTS = 3  # background deliveries (pay page, refunds) retry like a real bank, briefly


def _now() -> datetime:
    return datetime.now(UTC)


def _error(status: int, code: str, message: str) -> Answer:
    return {"error": {"code": code, "message": message}}, status


def _is_amount(value: object) -> bool:
    return type(value) is int and value > 0


def _money(amount: int, currency: str) -> str:
    """Two-decimal display; enough for the pay page of a sim."""
    return f"{amount // 100}.{amount % 100:02d} {currency}"


class SimBank:
    """The bank's state, open to tests: what it holds, what it received, what it called back."""

    def __init__(self, *, api_key: str, webhook_secret: str, callback_url: str | None,
                 http: httpx.AsyncClient, nursery: trio.Nursery) -> None:
        self.url = ""  # set once served
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.callback_url = callback_url
        self.requests: dict[str, Json] = {}
        self.refunds: dict[str, Json] = {}
        self.callbacks: list[Json] = []
        self.calls: list[tuple[str, str, str | None]] = []
        self._saved: dict[str, tuple[str, Answer]] = {}  # idempotency key → (fingerprint, answer)
        self._faults: list[Literal["timeout", "5xx"]] = []
        self._http = http
        self._nursery = nursery
        self.app = _build_app(self)

    def fail_next(self, mode: Literal["timeout", "5xx"], *, count: int = 1) -> None:
        """Make the next `count` authorised API calls fail: "timeout" executes, saves under the
        idempotency key and never answers; "5xx" answers 500 without executing."""
        self._faults.extend([mode] * count)

    async def customer_pays(self, request_id: str, *, deliver: bool = True) -> Json:
        """The customer approves in their banking app, even after `expires_at` (a late payment).

        Returns the `payment_request.paid` callback body; POSTs it once if `deliver` and a
        callback_url is set. Raises KeyError (unknown id), ValueError (not pending), and
        httpx.TransportError if the callback could not be delivered.
        """
        body = self._settle(request_id, "paid")
        if deliver and self.callback_url:
            await self.deliver(body)
        return body

    async def customer_declines(self, request_id: str) -> Json:
        """The customer refuses; a `payment_request.declined` callback is POSTed if a callback_url is set."""
        body = self._settle(request_id, "declined")
        if self.callback_url:
            await self.deliver(body)
        return body

    def sign(self, payload: bytes, *, timestamp: int | None = None) -> str:
        """The `Bank-Signature` header: HMAC-SHA256 over `<t>.<raw body>`, so a replayed body with a
        fresh timestamp, or a re-serialised body, does not verify."""
        t = int(time.time()) if timestamp is None else timestamp
        mac = hmac.new(self.webhook_secret.encode(), f"{t}.".encode() + payload, hashlib.sha256)
        return f"t={t},v1={mac.hexdigest()}"

    async def deliver(self, body: Json, *, url: str | None = None, signature: str | None = None,
                      raw: bytes | None = None) -> int:
        """POST one callback and return the receiver's HTTP status. `raw` and `signature` override
        the serialised body and its signature, so tests can send tampered callbacks.

        Raises ValueError when there is no URL to deliver to, httpx.TransportError when it is unreachable.
        """
        target = url or self.callback_url
        if target is None:
            raise ValueError("no callback_url to deliver to")
        payload = json.dumps(body).encode() if raw is None else raw
        headers = {"Content-Type": "application/json",
                   "Bank-Signature": self.sign(payload) if signature is None else signature}
        response = await self._http.post(target, content=payload, headers=headers)
        return response.status_code

    def _settle(self, request_id: str, status: Literal["paid", "declined"]) -> Json:
        record = self.requests[request_id]
        if record["status"] != "pending":
            raise ValueError(f"payment request {request_id} is {record['status']}")
        record["status"] = status
        if status == "paid":
            record["paid_at"] = _now().isoformat()
        return self._callback(f"payment_request.{status}", record)

    def _callback(self, kind: str, data: Json) -> Json:
        body = {"id": f"cb_{secrets.token_hex(8)}", "type": kind, "created": int(time.time()),
                "data": copy.deepcopy(data)}
        self.callbacks.append(body)
        return body

    async def _deliver_soon(self, body: Json) -> None:
        """Deliver in the background, retrying a refused or failed delivery a few times."""
        for attempt in range(CALLBACK_ATTEMPTS):
            if self.callback_url is None:
                return
            try:
                if 200 <= await self.deliver(body) < 300:
                    return
            except httpx.TransportError:
                pass
            await trio.sleep(0.2 * 2**attempt)

    # The API, each returning (body, status); `_api` around them does auth, faults and idempotency.

    def _create(self, body: Json) -> Answer:
        amount, currency, reference = body.get("amount"), body.get("currency"), body.get("reference")
        metadata = body.get("metadata", {})
        if not _is_amount(amount):
            return _error(422, "invalid_amount", "amount must be a positive integer in minor units")
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isupper()):
            return _error(422, "invalid_currency", "currency must be an ISO 4217 code")
        if not (isinstance(reference, str) and 0 < len(reference) <= 140):
            return _error(422, "invalid_reference", "reference must be 1 to 140 characters")
        if not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
            return _error(422, "invalid_metadata", "metadata must map strings to strings")
        try:
            expires_at = datetime.fromisoformat(str(body.get("expires_at")))
        except ValueError:
            return _error(422, "invalid_expires_at", "expires_at must be an ISO 8601 time")
        if expires_at.tzinfo is None or expires_at <= _now():
            return _error(422, "invalid_expires_at", "expires_at must be a future time with a zone")
        if any(r["reference"] == reference for r in self.requests.values()):
            return _error(409, "duplicate_reference", f"reference {reference!r} is already used")
        request_id = f"pr_{secrets.token_hex(8)}"
        self.requests[request_id] = {
            "id": request_id, "status": "pending", "amount": amount, "currency": currency,
            "reference": reference, "expires_at": expires_at.astimezone(UTC).isoformat(),
            "url": f"{self.url}/pay/{request_id}", "created_at": _now().isoformat(), "paid_at": None,
            "metadata": dict(metadata),
        }
        return copy.deepcopy(self.requests[request_id]), 201

    def _refund(self, body: Json) -> Answer:
        paid = self.requests.get(str(body.get("payment_request_id")))
        amount, reference = body.get("amount"), body.get("reference")
        if paid is None:
            return _error(404, "not_found", "no such payment request")
        if paid["status"] != "paid":
            return _error(422, "not_paid", f"payment request is {paid['status']}")
        if not _is_amount(amount):
            return _error(422, "invalid_amount", "amount must be a positive integer in minor units")
        if not (isinstance(reference, str) and reference):
            return _error(422, "invalid_reference", "reference is required")
        refunded = sum(r["amount"] for r in self.refunds.values() if r["payment_request_id"] == paid["id"])
        if refunded + amount > paid["amount"]:
            return _error(422, "amount_too_large", f"{paid['amount'] - refunded} left to refund")
        refund_id = f"rf_{secrets.token_hex(8)}"
        self.refunds[refund_id] = {
            "id": refund_id, "status": "succeeded", "amount": amount, "currency": paid["currency"],
            "payment_request_id": paid["id"], "reference": reference, "created_at": _now().isoformat(),
        }
        self._nursery.start_soon(self._deliver_soon, self._callback("refund.succeeded", self.refunds[refund_id]))
        return copy.deepcopy(self.refunds[refund_id]), 201

    async def _api(self, execute: Callable[[], Awaitable[Answer]]) -> Answer:
        """Authenticate, then inject the next fault, if any, around `execute`."""
        expected = f"Bearer {self.api_key}".encode()
        if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            return _error(401, "unauthenticated", "missing or wrong API key")
        fault = self._faults.pop(0) if self._faults else None
        if fault == "5xx":
            return _error(500, "internal_error", "simulated outage")
        answer = await execute()
        if fault == "timeout":
            await trio.sleep_forever()
        return answer

    async def _idempotent(self, handler: Callable[[Json], Answer]) -> Answer:
        """Run a POST once per Idempotency-Key: replay the saved answer for the same body, refuse
        another body. Only successes are saved, so a rejected call may be corrected and retried."""
        body = await request.get_json(silent=True)
        if not isinstance(body, dict):
            return _error(400, "invalid_request", "the body must be a JSON object")
        key = request.headers.get("Idempotency-Key")
        fingerprint = f"{request.method} {request.path} {json.dumps(body, sort_keys=True)}"
        if key is not None and key in self._saved:
            saved_fingerprint, (saved, status) = self._saved[key]
            if saved_fingerprint != fingerprint:
                return _error(409, "idempotency_error", "this Idempotency-Key was used with another request")
            return copy.deepcopy(saved), status
        answer = handler(body)
        if key is not None and answer[1] < 300:
            self._saved[key] = (fingerprint, answer)
        return answer


def _page(title: str, body: str, status: int = 200) -> Response:
    text = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title></head><body><h1>Sim Bank</h1>{body}</body></html>")
    return Response(text, status=status, content_type="text/html; charset=utf-8")


def _build_app(bank: SimBank) -> QuartTrio:
    app = QuartTrio("sim_bank")

    @app.before_request
    async def record_call() -> None:
        bank.calls.append((request.method, request.path, request.headers.get("Idempotency-Key")))

    @app.post("/v1/payment-requests")
    async def create_request() -> Answer:
        return await bank._api(lambda: bank._idempotent(bank._create))

    @app.get("/v1/payment-requests/<request_id>")
    async def get_request(request_id: str) -> Answer:
        async def find() -> Answer:
            found = bank.requests.get(request_id)
            return (copy.deepcopy(found), 200) if found else _error(404, "not_found", "no such payment request")
        return await bank._api(find)

    @app.post("/v1/refunds")
    async def create_refund() -> Answer:
        return await bank._api(lambda: bank._idempotent(bank._refund))

    @app.get("/pay/<request_id>")
    async def pay_page(request_id: str) -> Response:
        found = bank.requests.get(request_id)
        if found is None:
            return _page("Not found", "<p>No such payment request.</p>", 404)
        money = _money(found["amount"], found["currency"])
        body = f"<p>Pay <strong>{money}</strong>, reference <code>{html.escape(found['reference'])}</code>.</p>"
        if found["status"] == "pending":
            body += (f'<form method="post" action="/pay/{request_id}"><button type="submit">Pay</button></form>'
                     f'<form method="post" action="/pay/{request_id}/decline">'
                     f'<button type="submit">Decline</button></form>')
        else:
            body += f"<p>This payment request is {found['status']}.</p>"
        return _page(f"Pay {money}", body)

    async def settle_page(request_id: str, status: Literal["paid", "declined"]) -> Response:
        try:
            callback = bank._settle(request_id, status)
        except KeyError:
            return _page("Not found", "<p>No such payment request.</p>", 404)
        except ValueError as exc:
            return _page("Not payable", f"<p>{html.escape(str(exc))}.</p>", 409)
        bank._nursery.start_soon(bank._deliver_soon, callback)  # the browser need not wait for the merchant
        data = callback["data"]
        return _page(status.capitalize(), f"<p>{status.capitalize()}: {_money(data['amount'], data['currency'])}. "
                                          "You can close this page.</p>")

    @app.post("/pay/<request_id>")
    async def pay(request_id: str) -> Response:
        return await settle_page(request_id, "paid")

    @app.post("/pay/<request_id>/decline")
    async def decline(request_id: str) -> Response:
        return await settle_page(request_id, "declined")

    return app


@asynccontextmanager
async def open_sim_bank(*, callback_url: str | None = None, api_key: str = "bank_test_fynlo",
                        webhook_secret: str = "bank_whsec_fynlo") -> AsyncIterator[SimBank]:
    """Serve a bank on loopback for the block; callbacks still being retried are dropped at the end."""
    async with httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S) as http, trio.open_nursery() as nursery:
        bank = SimBank(api_key=api_key, webhook_secret=webhook_secret, callback_url=callback_url,
                       http=http, nursery=nursery)
        try:
            async with serving(bank.app) as url:
                bank.url = url
                yield bank
        finally:
            nursery.cancel_scope.cancel()
