"""HttpBank against the simulated bank, over loopback HTTP; callbacks into a real receiver; QR codes."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import trio
from quart import request
from quart_trio import QuartTrio

from fynlo.errors import BadSignature, Conflict, NotFound, ProviderUnavailable
from fynlo.payments.openbanking import BankRequest, HttpBank
from sim.bank import SimBank, open_sim_bank
from sim.loopback import serving


def _sign(secret: str, raw: bytes, timestamp: int) -> str:
    """Sign as a bank holding `secret` would, independently of the sim, so the scheme is pinned twice."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@pytest.fixture
async def bank() -> AsyncIterator[SimBank]:
    async with open_sim_bank() as sim:
        yield sim


@pytest.fixture
async def client(bank: SimBank) -> AsyncIterator[HttpBank]:
    http_bank = HttpBank(bank.url, api_key=bank.api_key, webhook_secret=bank.webhook_secret, timeout_s=5.0)
    try:
        yield http_bank
    finally:
        await http_bank.aclose()


@pytest.fixture
async def received(bank: SimBank, client: HttpBank) -> AsyncIterator[list[dict[str, Any]]]:
    """A merchant endpoint that trusts only callbacks HttpBank verifies; the bank is pointed at it."""
    events: list[dict[str, Any]] = []
    app = QuartTrio("receiver")

    @app.post("/callbacks/bank")
    async def callback() -> tuple[dict[str, Any], int]:
        try:
            event = client.verify_callback(await request.get_data(), request.headers.get("Bank-Signature"))
        except BadSignature as exc:
            return {"error": exc.to_dict()}, 400
        events.append(event)
        return {"received": True}, 200

    async with serving(app) as url:
        bank.callback_url = f"{url}/callbacks/bank"
        yield events


async def _create(client: HttpBank, *, key: str = "k-1", amount: int = 1250, reference: str = "T1-0001",
                  expires_at: datetime | None = None, expires_in: timedelta = timedelta(minutes=5)) -> BankRequest:
    """A retry must resend the same body, expires_at included, so pass it in to retry."""
    return await client.create_request(key=key, amount=amount, currency="GBP", reference=reference,
                                       expires_at=expires_at or datetime.now(UTC) + expires_in,
                                       metadata={"order_id": "o-1"})


async def _paid(client: HttpBank, bank: SimBank, **kwargs: Any) -> BankRequest:
    created = await _create(client, **kwargs)
    await bank.customer_pays(created.id, deliver=False)
    return created


async def test_create_is_pending_with_pay_url(client: HttpBank, bank: SimBank) -> None:
    created = await _create(client)
    assert created.status == "pending" and created.amount == 1250 and created.currency == "GBP"
    assert created.id.startswith("pr_") and created.url == f"{bank.url}/pay/{created.id}"
    assert created.paid_at is None and created.expires_at > datetime.now(UTC)
    assert await client.retrieve_request(created.id) == created


async def test_same_key_twice_creates_one_request(client: HttpBank, bank: SimBank) -> None:
    expires_at = datetime.now(UTC) + timedelta(minutes=5)
    first, second = [await client.create_request(key="same", amount=900, currency="GBP", reference="T2",
                                                 expires_at=expires_at, metadata={}) for _ in range(2)]
    assert first == second
    assert list(bank.requests) == [first.id]
    assert bank.calls == [("POST", "/v1/payment-requests", "same")] * 2


async def test_same_key_other_amount_is_an_idempotency_conflict(client: HttpBank, bank: SimBank) -> None:
    await _create(client, key="k")
    with pytest.raises(Conflict) as caught:
        await _create(client, key="k", amount=1251)
    assert caught.value.details["reason"] == "idempotency_key_reused"
    assert len(bank.requests) == 1


async def test_reused_reference_with_another_key_is_rejected(client: HttpBank) -> None:
    await _create(client, key="a", reference="T3")
    with pytest.raises(Conflict) as caught:
        await _create(client, key="b", reference="T3")
    assert caught.value.details["reason"] == "provider_rejected"


async def test_paid_callback_is_delivered_and_verified(client: HttpBank, bank: SimBank,
                                                       received: list[dict[str, Any]]) -> None:
    created = await _create(client)
    body = await bank.customer_pays(created.id)
    assert received == [body] == bank.callbacks
    assert body["type"] == "payment_request.paid" and body["id"].startswith("cb_")
    paid = BankRequest.from_api(body["data"])
    assert paid.status == "paid" and paid.id == created.id and paid.paid_at is not None
    assert await client.retrieve_request(created.id) == paid


async def test_late_payment_is_still_paid_after_expiry(client: HttpBank, bank: SimBank,
                                                       received: list[dict[str, Any]]) -> None:
    created = await _create(client, expires_in=timedelta(seconds=0.2))
    await trio.sleep(0.3)
    await bank.customer_pays(created.id)
    late = BankRequest.from_api(received[0]["data"])
    assert late.status == "paid" and late.paid_at is not None and late.paid_at > late.expires_at


async def test_declined_is_called_back(client: HttpBank, bank: SimBank, received: list[dict[str, Any]]) -> None:
    created = await _create(client)
    await bank.customer_declines(created.id)
    assert [event["type"] for event in received] == ["payment_request.declined"]
    assert (await client.retrieve_request(created.id)).status == "declined"
    with pytest.raises(ValueError):
        await bank.customer_pays(created.id)


async def test_refund_partial_then_too_much(client: HttpBank, bank: SimBank,
                                            received: list[dict[str, Any]]) -> None:
    paid = await _paid(client, bank, amount=1000)
    refund = await client.refund(paid.id, amount=400, key="r-1", reference="R1")
    assert refund.status == "succeeded" and refund.amount == 400 and refund.id.startswith("rf_")
    assert await client.refund(paid.id, amount=400, key="r-1", reference="R1") == refund  # replayed
    with pytest.raises(Conflict) as caught:
        await client.refund(paid.id, amount=601, key="r-2", reference="R2")
    assert caught.value.details["reason"] == "provider_rejected"
    assert [r["amount"] for r in bank.refunds.values()] == [400]
    with trio.fail_after(2):
        while not received:
            await trio.sleep(0.01)
    assert received[0]["type"] == "refund.succeeded" and received[0]["data"]["id"] == refund.id


async def test_refund_of_an_unpaid_request_is_rejected(client: HttpBank) -> None:
    created = await _create(client)
    with pytest.raises(Conflict) as caught:
        await client.refund(created.id, amount=100, key="r", reference="R")
    assert caught.value.details["reason"] == "provider_rejected"


async def test_timeout_then_retry_with_the_same_key_returns_the_same_request(bank: SimBank) -> None:
    impatient = HttpBank(bank.url, api_key=bank.api_key, webhook_secret=bank.webhook_secret, timeout_s=0.5)
    try:
        expires_at = datetime.now(UTC) + timedelta(minutes=5)
        bank.fail_next("timeout")
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await _create(impatient, key="retry-me", expires_at=expires_at)
        assert len(bank.requests) == 1  # it happened; the answer was lost
    finally:
        await impatient.aclose()
    patient = HttpBank(bank.url, api_key=bank.api_key, webhook_secret=bank.webhook_secret, timeout_s=10.0)
    try:   # the retry may take its time on a busy machine; only the first call had to time out
        retried = await _create(patient, key="retry-me", expires_at=expires_at)
        assert list(bank.requests) == [retried.id]
    finally:
        await patient.aclose()


async def test_5xx_is_unavailable_and_creates_nothing(client: HttpBank, bank: SimBank) -> None:
    expires_at = datetime.now(UTC) + timedelta(minutes=5)
    bank.fail_next("5xx")
    with pytest.raises(ProviderUnavailable, match="500"):
        await _create(client, key="k-5", expires_at=expires_at)
    assert bank.requests == {}
    created = await _create(client, key="k-5", expires_at=expires_at)
    assert list(bank.requests) == [created.id]


async def test_unknown_request_is_not_found(client: HttpBank) -> None:
    with pytest.raises(NotFound):
        await client.retrieve_request("pr_missing")


async def test_a_wrong_api_key_is_provider_unavailable(bank: SimBank) -> None:
    stranger = HttpBank(bank.url, api_key="wrong", webhook_secret=bank.webhook_secret)
    try:
        with pytest.raises(ProviderUnavailable, match="not configured"):
            await _create(stranger)
    finally:
        await stranger.aclose()
    assert bank.requests == {}


async def test_an_unreachable_bank_is_provider_unavailable() -> None:
    async with open_sim_bank() as gone:
        url = gone.url
    absent = HttpBank(url, api_key="k", webhook_secret="s", timeout_s=2.0)
    try:
        with pytest.raises(ProviderUnavailable):
            await absent.retrieve_request("pr_x")
    finally:
        await absent.aclose()


@pytest.mark.parametrize("tamper", ["wrong_hmac", "old_timestamp", "future_timestamp", "no_v1", "other_secret"])
async def test_untrusted_callbacks_are_refused(client: HttpBank, bank: SimBank, received: list[dict[str, Any]],
                                               tamper: str) -> None:
    body = {"id": "cb_x", "type": "payment_request.paid", "created": int(time.time()), "data": {}}
    raw = json.dumps(body).encode()
    now = int(time.time())
    signature = {
        "wrong_hmac": bank.sign(raw + b" "),
        "old_timestamp": bank.sign(raw, timestamp=now - 301),
        "future_timestamp": bank.sign(raw, timestamp=now + 330),  # a margin for a slow machine
        "no_v1": f"t={now}",
        "other_secret": _sign("not the secret", raw, now),
    }[tamper]
    assert await bank.deliver(body, raw=raw, signature=signature) == 400
    assert await bank.deliver(body, raw=raw) == 200  # the same body, honestly signed
    assert received == [body]


async def test_malformed_json_and_missing_header_are_refused(bank: SimBank, received: list[dict[str, Any]]) -> None:
    assert bank.callback_url is not None
    assert await bank.deliver({}, raw=b"{not json") == 400  # correctly signed, but not JSON
    async with httpx.AsyncClient() as http:
        response = await http.post(bank.callback_url, content=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"
    assert received == []


def test_any_v1_may_match_while_secrets_rotate() -> None:
    verifier = HttpBank("http://127.0.0.1:1", api_key="k", webhook_secret="new")
    raw = b'{"type": "refund.succeeded"}'
    now = int(time.time())
    old, new = _sign("old", raw, now), _sign("new", raw, now)
    header = f"{old},v1={new.split('v1=')[1]}"
    assert verifier.verify_callback(raw, header) == {"type": "refund.succeeded"}
    with pytest.raises(BadSignature):
        verifier.verify_callback(raw, old)
    with pytest.raises(BadSignature):
        verifier.verify_callback(raw, None)
    with pytest.raises(BadSignature):
        verifier.verify_callback(b"[1, 2]", _sign("new", b"[1, 2]", now))


async def test_pay_page_shows_the_amount_and_pays(client: HttpBank, bank: SimBank,
                                                  received: list[dict[str, Any]]) -> None:
    created = await _create(client, amount=1250, reference="T9-<b>")
    async with httpx.AsyncClient() as browser:
        page = await browser.get(created.url)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "12.50 GBP" in page.text and f'action="/pay/{created.id}"' in page.text
        assert "T9-&lt;b&gt;" in page.text
        paid = await browser.post(created.url)
        assert paid.status_code == 200 and "Paid" in paid.text
        again = await browser.post(created.url)
        assert again.status_code == 409
        assert (await browser.get(f"{bank.url}/pay/pr_missing")).status_code == 404
    assert (await client.retrieve_request(created.id)).status == "paid"
    with trio.fail_after(2):
        while not received:
            await trio.sleep(0.01)
    assert received[0]["type"] == "payment_request.paid"
