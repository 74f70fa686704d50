"""Open-banking payment requests: the provider interface, and its client over HTTP.

A customer pays by scanning a QR code that leads to a bank's payment page. Fynlo creates the
request, shows the code, and learns the outcome from a signed callback (or by asking). Every
call that creates something carries an idempotency key. After a timeout we cannot know
whether the bank acted, so the caller retries with the same key and gets the same object back.

Errors, all from fynlo.errors:
  * ProviderUnavailable: timeout, connection failure, 5xx or 429, an unreadable answer, or a
    rejected API key (the bank is not configured). The outcome may be unknown; retry with the same key.
  * Conflict(reason="idempotency_key_reused"): the key was already used with another body.
  * Conflict(reason="provider_rejected"): any other 4xx; the bank refused this request.
  * NotFound: the bank does not know the id.
  * BadSignature: a callback that cannot be trusted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import httpx
import trio

from fynlo.errors import BadSignature, Conflict, NotFound, ProviderUnavailable

__all__ = ["BankRefund", "BankRequest", "HttpBank", "OpenBankingProvider"]

PROVIDER = "bank"

_Answer = TypeVar("_Answer", "BankRequest", "BankRefund")


def _int(value: object) -> int:
    if type(value) is not int:
        raise ValueError(f"expected an integer amount, got {value!r}")
    return value


def _when(value: object) -> datetime:
    when = datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError(f"expected a time with a zone, got {value!r}")
    return when


@dataclass(frozen=True, slots=True)
class BankRequest:
    """A payment request as the bank reports it. `paid_at` may be later than `expires_at`:
    the bank takes late payments, and the money is real."""

    id: str
    status: str  # pending | paid | declined
    amount: int  # minor units
    currency: str
    reference: str
    url: str  # the customer's payment page: what the QR code encodes
    expires_at: datetime
    paid_at: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> BankRequest:
        """Read the API's JSON (also a callback's `data`). Raises ValueError when malformed."""
        try:
            paid_at = data["paid_at"]
            return cls(id=str(data["id"]), status=str(data["status"]), amount=_int(data["amount"]),
                       currency=str(data["currency"]), reference=str(data["reference"]), url=str(data["url"]),
                       expires_at=_when(data["expires_at"]), paid_at=None if paid_at is None else _when(paid_at))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed payment request: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class BankRefund:
    id: str
    status: str  # succeeded
    amount: int  # minor units

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> BankRefund:
        """Read the API's JSON (also a callback's `data`). Raises ValueError when malformed."""
        try:
            return cls(id=str(data["id"]), status=str(data["status"]), amount=_int(data["amount"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed refund: {exc!r}") from exc


class OpenBankingProvider(Protocol):
    """What the payment code needs from a bank; HttpBank is the one implementation, the sim its peer."""

    async def create_request(self, *, key: str, amount: int, currency: str, reference: str,
                             expires_at: datetime, metadata: dict[str, str]) -> BankRequest:
        """Create a payment request; a retry with the same `key` gets the same one."""
        ...

    async def retrieve_request(self, request_id: str) -> BankRequest:
        """The request as the bank sees it now."""
        ...

    async def refund(self, request_id: str, *, amount: int, key: str, reference: str) -> BankRefund:
        """Refund part or all of a paid request; a retry with the same `key` gets the same refund."""
        ...

    def verify_callback(self, payload: bytes, signature: str | None, *,
                        tolerance_s: int = 300) -> dict[str, Any]:
        """The callback's JSON once its signature checks out; raises BadSignature otherwise."""
        ...

    async def aclose(self) -> None:
        """Release the provider's connections."""
        ...


class HttpBank:
    """The open-banking API over HTTP: bearer key, idempotency keys, HMAC-signed callbacks.

    Cancellation: a cancelled call may or may not have reached the bank. Retry with the same key.
    """

    def __init__(self, base_url: str, *, api_key: str, webhook_secret: str, timeout_s: float = 20.0) -> None:
        self._secret = webhook_secret.encode()
        self._timeout_s = timeout_s
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s,
                                       headers={"Authorization": f"Bearer {api_key}"})

    async def create_request(self, *, key: str, amount: int, currency: str, reference: str,
                             expires_at: datetime, metadata: dict[str, str]) -> BankRequest:
        """Ask the bank for a payment request the customer can pay from its `url`.

        Raises ValueError when `expires_at` has no zone (a programming error, never sent).
        """
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must carry a zone")
        body = {"amount": amount, "currency": currency, "reference": reference,
                "expires_at": expires_at.isoformat(), "metadata": metadata}
        return self._parse(BankRequest, await self._call("POST", "/v1/payment-requests", body=body, key=key))

    async def retrieve_request(self, request_id: str) -> BankRequest:
        """The request as the bank sees it now: the fallback when a callback is late or lost."""
        return self._parse(BankRequest, await self._call("GET", f"/v1/payment-requests/{request_id}"))

    async def refund(self, request_id: str, *, amount: int, key: str, reference: str) -> BankRefund:
        """Refund part or all of a paid request; the bank refuses more than was paid (provider_rejected)."""
        body = {"payment_request_id": request_id, "amount": amount, "reference": reference}
        return self._parse(BankRefund, await self._call("POST", "/v1/refunds", body=body, key=key))

    def verify_callback(self, payload: bytes, signature: str | None, *, tolerance_s: int = 300) -> dict[str, Any]:
        """The callback's JSON, once its `Bank-Signature` proves the bank sent these exact bytes recently.

        Any `v1` may match, so the bank can sign with an old and a new secret while they rotate.
        The timestamp window bounds replays of a captured callback.

        Raises:
            BadSignature: missing or unparseable header, no matching v1, timestamp outside
                ±tolerance_s, or a body that is not a JSON object.
        """
        if not signature:
            raise BadSignature("missing Bank-Signature header", provider=PROVIDER)
        timestamp, candidates = _parse_signature(signature)
        signed = f"{timestamp}.".encode() + payload
        expected = hmac.new(self._secret, signed, hashlib.sha256).hexdigest().encode()
        if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in candidates):
            raise BadSignature("Bank-Signature does not match the body", provider=PROVIDER)
        if abs(time.time() - timestamp) > tolerance_s:
            raise BadSignature("Bank-Signature timestamp is outside the tolerance", provider=PROVIDER)
        try:
            event = json.loads(payload)
        except ValueError:
            raise BadSignature("callback body is not JSON", provider=PROVIDER) from None
        if not isinstance(event, dict):
            raise BadSignature("callback body is not a JSON object", provider=PROVIDER)
        return event

    async def aclose(self) -> None:
        """Close the HTTP client and its connections."""
        await self._http.aclose()

    @staticmethod
    def _parse(kind: type[_Answer], data: dict[str, Any]) -> _Answer:
        try:
            return kind.from_api(data)
        except ValueError as exc:
            raise ProviderUnavailable(f"bank answered a malformed {kind.__name__}: {exc}", provider=PROVIDER) from exc

    async def _call(self, method: str, path: str, *, body: dict[str, Any] | None = None,
                    key: str | None = None) -> dict[str, Any]:
        """One API call, with every failure translated at this boundary (see the module docstring)."""
        headers = {"Idempotency-Key": key} if key is not None else {}
        try:
            with trio.fail_after(self._timeout_s):  # the whole call, not only each network step
                response = await self._http.request(method, path, json=body, headers=headers)
        except (trio.TooSlowError, httpx.TimeoutException):
            raise ProviderUnavailable(f"bank timed out on {method} {path}", provider=PROVIDER) from None
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"bank unreachable: {exc!r}", provider=PROVIDER) from exc
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        error = answer.get("error") if isinstance(answer, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        message = str(error.get("message", status)) if isinstance(error, dict) else f"bank answered {status}"
        if status >= 500 or status == 429:
            raise ProviderUnavailable(f"bank answered {status}: {message}", provider=PROVIDER, status=status)
        if status in (401, 403):
            raise ProviderUnavailable(f"bank not configured: the API key was refused ({status})",
                                      provider=PROVIDER, status=status)
        if status == 404:
            raise NotFound(message, provider=PROVIDER)
        if status == 409 and code == "idempotency_error":
            raise Conflict(message, reason="idempotency_key_reused", provider=PROVIDER, key=key)
        if status >= 400:
            raise Conflict(message, reason="provider_rejected", provider=PROVIDER, provider_code=code)
        if not isinstance(answer, dict):
            raise ProviderUnavailable(f"bank answered {status} without a JSON object", provider=PROVIDER)
        return answer


def _parse_signature(header: str) -> tuple[int, list[str]]:
    """`t=<unix>,v1=<hex>[,v1=<hex>…]` → (t, [v1…]); unknown schemes are ignored."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise BadSignature("Bank-Signature has a malformed timestamp", provider=PROVIDER) from None
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise BadSignature("Bank-Signature needs t= and at least one v1=", provider=PROVIDER)
    return timestamp, candidates
