"""StripeGateway against the Stripe fake, over loopback HTTP, through stripe-python itself."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import AsyncIterator, Callable

import pytest
from quart import request
from quart_trio import QuartTrio

from fynlo.errors import BadSignature, Conflict, NotFound, ProviderUnavailable
from fynlo.payments.stripe_gateway import Intent, StripeGateway
from sim.loopback import serving
from sim.stripe_fake import StripeFake, open_stripe_fake

# stripe-python hands httpx its form body as `data=`; httpx prefers `content=`. Not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")


@pytest.fixture
async def fake() -> AsyncIterator[StripeFake]:
    async with open_stripe_fake() as stripe_fake:
        yield stripe_fake


@pytest.fixture
async def gateway(fake: StripeFake) -> AsyncIterator[StripeGateway]:
    gw = StripeGateway(fake.secret_key, webhook_secret=fake.webhook_secret, api_base=fake.url, timeout_s=5.0)
    yield gw
    await gw.aclose()


async def _intent(gateway: StripeGateway, key: str, *, amount: int = 1250, present: bool = True,
                  manual: bool = False) -> Intent:
    return await gateway.create_intent(key=key, amount=amount, currency="GBP", present=present,
                                       manual_capture=manual, metadata={"payment_id": key})


# --- Creating intents ------------------------------------------------------------------------


async def test_the_same_key_creates_one_intent(fake: StripeFake, gateway: StripeGateway) -> None:
    first = await _intent(gateway, "pay-1")
    again = await _intent(gateway, "pay-1")
    assert again == first
    assert list(fake.intents) == [first.id]
    assert fake.calls == [("POST", "/v1/payment_intents", "pay-1")] * 2


async def test_a_key_reused_for_another_amount_conflicts(fake: StripeFake, gateway: StripeGateway) -> None:
    await _intent(gateway, "pay-1", amount=1250)
    with pytest.raises(Conflict) as caught:
        await _intent(gateway, "pay-1", amount=1300)
    assert caught.value.details["reason"] == "idempotency_key_reused"
    assert len(fake.intents) == 1


async def test_card_present_and_in_app_intents(fake: StripeFake, gateway: StripeGateway) -> None:
    counter = await _intent(gateway, "counter", present=True)
    app = await _intent(gateway, "app", present=False, manual=True)
    assert fake.intents[counter.id]["payment_method_types"] == ["card_present"]
    assert fake.intents[counter.id]["automatic_payment_methods"] is None
    assert fake.intents[app.id]["automatic_payment_methods"]["enabled"] is True
    assert (counter.currency, counter.capture_method, app.capture_method) == ("gbp", "automatic", "manual")
    assert counter.metadata == {"payment_id": "counter"} and counter.status == "requires_payment_method"
    assert counter.client_secret and counter.client_secret.startswith(counter.id + "_secret_")


# --- The customer pays -----------------------------------------------------------------------


async def test_a_presented_card_succeeds(fake: StripeFake, gateway: StripeGateway) -> None:
    intent = await _intent(gateway, "pay-1")
    await fake.customer_pays(intent.id)
    paid = await gateway.retrieve_intent(intent.id)
    assert (paid.status, paid.amount_received, paid.failure) == ("succeeded", 1250, None)


async def test_a_decline_leaves_the_reason_and_the_intent_payable(fake: StripeFake, gateway: StripeGateway) -> None:
    intent = await _intent(gateway, "pay-1")
    await fake.customer_pays(intent.id, decline="insufficient_funds")
    declined = await gateway.retrieve_intent(intent.id)
    assert (declined.status, declined.failure, declined.amount_received) == (
        "requires_payment_method", "insufficient_funds", 0)
    await fake.customer_pays(intent.id, decline="card_declined")
    assert (await gateway.retrieve_intent(intent.id)).failure == "generic_decline"
    await fake.customer_pays(intent.id)
    assert (await gateway.retrieve_intent(intent.id)).status == "succeeded"


async def test_retrieving_an_unknown_intent_is_not_found(gateway: StripeGateway) -> None:
    with pytest.raises(NotFound):
        await gateway.retrieve_intent("pi_missing")


# --- Authorise, capture, cancel, refund -------------------------------------------------------


async def test_manual_capture_up_to_the_authorised_amount(fake: StripeFake, gateway: StripeGateway) -> None:
    intent = await _intent(gateway, "tab-1", amount=4000, manual=True)
    with pytest.raises(Conflict) as early:
        await gateway.capture(intent.id, amount=4000, key="cap-0")
    assert early.value.details["provider_code"] == "payment_intent_unexpected_state"
    await fake.customer_pays(intent.id)
    held = await gateway.retrieve_intent(intent.id)
    assert (held.status, held.amount_capturable, held.amount_received) == ("requires_capture", 4000, 0)
    with pytest.raises(Conflict) as too_much:
        await gateway.capture(intent.id, amount=4001, key="cap-1")
    assert too_much.value.details == {"reason": "provider_rejected", "provider_code": "amount_too_large"}
    captured = await gateway.capture(intent.id, amount=3500, key="cap-2")
    assert (captured.status, captured.amount_received, captured.amount_capturable) == ("succeeded", 3500, 0)


async def test_cancel_an_authorisation_but_not_a_payment(fake: StripeFake, gateway: StripeGateway) -> None:
    held = await _intent(gateway, "tab-1", manual=True)
    await fake.customer_pays(held.id)
    assert (await gateway.cancel(held.id, key="void-1")).status == "canceled"
    paid = await _intent(gateway, "pay-2")
    await fake.customer_pays(paid.id)
    with pytest.raises(Conflict) as caught:
        await gateway.cancel(paid.id, key="void-2")
    assert caught.value.details["provider_code"] == "payment_intent_unexpected_state"
    assert fake.intents[paid.id]["status"] == "succeeded"


async def test_refunds_up_to_what_was_received(fake: StripeFake, gateway: StripeGateway) -> None:
    intent = await _intent(gateway, "pay-1", amount=2000)
    await fake.customer_pays(intent.id)
    refund = await gateway.refund(intent.id, amount=1500, key="ref-1", metadata={"refund_id": "r1"})
    assert (refund.status, refund.amount, refund.payment_intent) == ("succeeded", 1500, intent.id)
    assert await gateway.refund(intent.id, amount=1500, key="ref-1", metadata={"refund_id": "r1"}) == refund
    with pytest.raises(Conflict) as caught:
        await gateway.refund(intent.id, amount=501, key="ref-2", metadata={})
    assert caught.value.details["provider_code"] == "amount_too_large"
    await gateway.refund(intent.id, amount=500, key="ref-3", metadata={})
    assert [r["amount"] for r in fake.refunds.values()] == [1500, 500]


# --- Listing ---------------------------------------------------------------------------------


async def test_list_intents_pages_through_a_created_window(fake: StripeFake, gateway: StripeGateway) -> None:
    stamps = iter([1000, 1001, 1001, 1002, 1003, 1004, 2000])
    fake.clock = lambda: next(stamps)
    made = [await _intent(gateway, f"pay-{n}") for n in range(7)]
    listed = await gateway.list_intents(created_gte=1001, created_lt=1004, page_size=2)
    assert [i.id for i in listed] == [made[4].id, made[3].id, made[2].id, made[1].id]  # newest first
    assert sum(call[:2] == ("GET", "/v1/payment_intents") for call in fake.calls) == 2
    assert len(await gateway.list_intents(created_gte=0, created_lt=3000, page_size=3)) == 7


# --- Faults ----------------------------------------------------------------------------------


async def test_a_timeout_then_a_retry_with_the_same_key_finds_the_first_intent(fake: StripeFake) -> None:
    impatient = StripeGateway(fake.secret_key, webhook_secret=fake.webhook_secret, api_base=fake.url, timeout_s=0.5)
    try:
        fake.fail_next("timeout")
        with pytest.raises(ProviderUnavailable):
            await _intent(impatient, "pay-1")
        assert len(fake.intents) == 1  # Stripe did it; we never heard
    finally:
        await impatient.aclose()
    patient = StripeGateway(fake.secret_key, webhook_secret=fake.webhook_secret, api_base=fake.url, timeout_s=10.0)
    try:   # only the first call had to time out; the retry may take its time on a busy machine
        retried = await _intent(patient, "pay-1")
    finally:
        await patient.aclose()
    assert list(fake.intents) == [retried.id]


@pytest.mark.parametrize("mode", ["5xx", "rate_limit"])
async def test_an_unexecuted_failure_creates_nothing_and_a_retry_does(
        fake: StripeFake, gateway: StripeGateway, mode: str) -> None:
    fake.fail_next(mode, path_prefix="/v1/payment_intents")  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailable) as caught:
        await _intent(gateway, "pay-1")
    assert caught.value.details == {"provider": "stripe"}
    assert fake.intents == {}
    intent = await _intent(gateway, "pay-1")
    assert list(fake.intents) == [intent.id]


async def test_a_garbled_answer_is_unavailable_and_a_retry_finds_the_one_intent(
        fake: StripeFake, gateway: StripeGateway) -> None:
    fake.fail_next("garbled", path_prefix="/v1/payment_intents")
    with pytest.raises(ProviderUnavailable) as caught:
        await _intent(gateway, "pay-1")
    assert caught.value.details == {"provider": "stripe"}
    [created] = fake.intents            # it was made: the answer alone was lost
    assert (await _intent(gateway, "pay-1")).id == created and len(fake.intents) == 1


async def test_a_wrong_secret_key_means_not_configured(fake: StripeFake) -> None:
    stranger = StripeGateway("sk_test_wrong", webhook_secret=fake.webhook_secret, api_base=fake.url)
    try:
        with pytest.raises(ProviderUnavailable, match="not configured"):
            await stranger.connection_token()
    finally:
        await stranger.aclose()


async def test_connection_token(gateway: StripeGateway) -> None:
    assert (await gateway.connection_token()).startswith("pst_test_")


# --- Webhooks --------------------------------------------------------------------------------

Forge = Callable[[StripeFake, bytes], tuple[bytes, str | None]]


def _junk_alongside(fake: StripeFake, raw: bytes) -> tuple[bytes, str | None]:
    good = fake.sign(raw)
    return raw, good.replace(",v1=", ",v1=00ff,v1=")


REJECTED: dict[str, Forge] = {
    "bad signature": lambda f, raw: (raw, f.sign(raw, secret="whsec_someone_else")),
    "missing header": lambda f, raw: (raw, None),
    "no v1": lambda f, raw: (raw, f.sign(raw).replace("v1=", "v0=")),
    "301 s old": lambda f, raw: (raw, f.sign(raw, timestamp=int(time.time()) - 301)),
    "301 s ahead": lambda f, raw: (raw, f.sign(raw, timestamp=int(time.time()) + 301)),
    "re-serialised": lambda f, raw: (json.dumps(json.loads(raw)).encode(), f.sign(raw)),
    "malformed JSON": lambda f, raw: (raw[:-2], f.sign(raw[:-2])),
    "not UTF-8": lambda f, raw: (b"\xff" + raw, f.sign(b"\xff" + raw)),
}


def _event_body() -> bytes:
    event = {"id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "data": {"object": {"id": "pi_1"}}}
    return json.dumps(event, indent=2).encode()


@pytest.mark.parametrize("case", list(REJECTED))
async def test_webhook_verification_rejects(fake: StripeFake, gateway: StripeGateway, case: str) -> None:
    payload, header = REJECTED[case](fake, _event_body())
    with pytest.raises(BadSignature):
        gateway.verify_webhook(payload, header)


@pytest.mark.parametrize("forge", [lambda f, raw: (raw, f.sign(raw)), _junk_alongside], ids=["signed", "rotating"])
async def test_webhook_verification_accepts(fake: StripeFake, gateway: StripeGateway, forge: Forge) -> None:
    payload, header = forge(fake, _event_body())
    assert gateway.verify_webhook(payload, header)["data"]["object"] == {"id": "pi_1"}


async def test_events_reach_a_receiver_that_verifies_them(fake: StripeFake, gateway: StripeGateway) -> None:
    received: list[dict] = []
    receiver = QuartTrio("receiver")

    @receiver.post("/hook")
    async def hook() -> tuple[str, int]:
        try:
            received.append(gateway.verify_webhook(await request.get_data(), request.headers.get("Stripe-Signature")))
        except BadSignature:
            return "bad signature", 400
        return "", 200

    async with serving(receiver) as url:
        fake.webhook_url = url + "/hook"
        paid = await _intent(gateway, "pay-1")
        await fake.customer_pays(paid.id)
        declined = await _intent(gateway, "pay-2")
        await fake.customer_pays(declined.id, decline="card_declined")
        lapsed = await _intent(gateway, "tab-1", manual=True)
        await fake.customer_pays(lapsed.id)
        await fake.expire_authorisation(lapsed.id)
        await gateway.refund(paid.id, amount=250, key="ref-1", metadata={})
        await fake.dispute(paid.id)
        await fake.settle()

        assert [e["type"] for e in received] == [
            "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.amount_capturable_updated",
            "payment_intent.canceled", "charge.refunded", "charge.dispute.created"]
        assert received == fake.events and {status for _, status in fake.deliveries} == {200}
        assert Intent.from_stripe(received[0]["data"]["object"]).amount_received == 1250
        assert Intent.from_stripe(received[1]["data"]["object"]).failure == "generic_decline"
        assert received[3]["data"]["object"]["cancellation_reason"] == "automatic"
        assert received[4]["data"]["object"]["amount_refunded"] == 250
        assert received[4]["request"]["idempotency_key"] == "ref-1"
        assert received[5]["data"]["object"]["payment_intent"] == paid.id

        held = fake.hold_webhooks()
        await fake.customer_pays((await _intent(gateway, "pay-3")).id)
        assert len(received) == 6 and [e["type"] for e in held] == ["payment_intent.succeeded"]
        assert [await fake.deliver(held[0]) for _ in range(2)] == [200, 200]
        assert await fake.deliver(held[0], raw=json.dumps(held[0]).encode()) == 400
        assert await fake.deliver(held[0], signature="t=1,v1=00") == 400


# --- Start-up ----------------------------------------------------------------------------------

_FIRST_USE = """
import sys
from fynlo.payments.stripe_gateway import Intent, StripeGateway
import stripe
gateway = StripeGateway("sk_test_x", webhook_secret="whsec_x", api_base="http://127.0.0.1:9")
if sys.argv[1] == "warm":
    gateway.warm_up()
before = set(sys.modules)
gateway._client.v1.payment_intents, gateway._client.v1.refunds
Intent.from_stripe(stripe.convert_to_stripe_object({
    "object": "payment_intent", "id": "pi_1", "status": "succeeded", "amount": 1250, "currency": "gbp",
    "created": 1, "metadata": {}}))
stripe.convert_to_stripe_object({"object": "refund", "id": "re_1", "status": "succeeded"})
print(" ".join(sorted(m for m in set(sys.modules) - before if m.startswith("stripe"))))
"""


@pytest.mark.parametrize("warm", [False, True])
def test_warm_up_loads_what_the_first_payment_would(warm: bool) -> None:
    """A fresh interpreter: without `warm_up` the first intent loads stripe-python's modules on
    the event loop; after it, nothing is left to load."""
    done = subprocess.run([sys.executable, "-c", _FIRST_USE, "warm" if warm else "cold"],
                          capture_output=True, text=True, timeout=60, check=True)
    loaded = done.stdout.split()
    if warm:
        assert loaded == []
    else:
        assert "stripe._payment_intent" in loaded
