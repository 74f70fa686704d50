"""Exactly-once money under faults: the server killed between Stripe's success and our commit,
webhooks that arrive while no server is up, and retries with the same command id."""

from __future__ import annotations

from typing import Any, AsyncIterator

import httpx
import pytest
import trio

from fynlo.db import Database
from sim.bank import SimBank
from sim.providers import provider_env
from sim.stripe_fake import StripeFake
from tests.payment_kit import Cashier, point_callbacks, providers, rows
from tests.support import VenueKit, new_id, server_process
from tests.test_commands import post

pytestmark = pytest.mark.slow



@pytest.fixture
async def fakes() -> AsyncIterator[tuple[StripeFake, SimBank]]:
    async with providers() as both:
        yield both


def server_env(stripe: StripeFake, bank: SimBank) -> dict[str, str]:
    return {**provider_env(stripe, bank), "FYNLO_PROVIDER_TIMEOUT": "30", "FYNLO_LEASE_TTL": "2",
            "FYNLO_LEASE_RENEW": "0.5"}


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.05)


async def retry_until_ok(base: str, token: str, name: str, args: dict[str, Any], command_id: str) -> dict[str, Any]:
    """A terminal retrying with the same id until the venue's new owner answers."""
    with trio.fail_after(20):
        while True:
            reply = await post(base, token, name, args, command_id=command_id)
            if reply["ok"] or reply["error"]["code"] != "unavailable":
                return reply
            await trio.sleep(0.2)


async def test_killed_between_stripe_success_and_our_commit(database_url: str, db: Database, venue: VenueKit,
                                                            fakes: tuple[StripeFake, SimBank]) -> None:
    stripe, bank = fakes
    env = server_env(stripe, bank)
    token = venue.token("staff")
    async with server_process(database_url, instance="pay-a", env=env) as (a_base, a_proc):
        c = Cashier(a_base, venue)
        order_id, total = await c.order_for("Scotch egg", "Chips")
        stripe.fail_next("timeout", path_prefix="/v1/payment_intents")   # Stripe acts, the answer never comes
        command_id, args = new_id(), {"order_id": order_id, "payment_id": new_id(), "amount": total, "tip": 0}

        async def start() -> None:
            try:
                await post(a_base, token, "payment.card_start", args, command_id=command_id)
            except httpx.TransportError:
                pass   # the server died under us

        async with trio.open_nursery() as nursery:
            nursery.start_soon(start)
            await wait_for(lambda: len(stripe.intents) == 1)
            a_proc.kill()
    pending = await rows(db, "SELECT status, provider_ref FROM payments WHERE order_id = %s", order_id)
    assert pending == [{"status": "pending", "provider_ref": None}]   # our pending row, Stripe's unknown answer

    async with server_process(database_url, instance="pay-b", env=env) as (b_base, _):
        point_callbacks(b_base, stripe, bank)
        reply = await retry_until_ok(b_base, token, "payment.card_start", args, command_id)
        assert reply["ok"], reply
        (intent_id,) = stripe.intents
        assert reply["result"]["client_secret"].startswith(intent_id) and len(stripe.intents) == 1
        await stripe.customer_pays(intent_id)
        again = await post(b_base, token, "payment.card_start", args, command_id=command_id)
        assert again == reply                                      # the stored first reply
        order = (await post(b_base, token, "order.get", {"order_id": order_id}))["result"]
        assert order["payment_status"] == "paid" and order["paid"] == total
    succeeded = await rows(db, "SELECT count(*) AS n FROM events WHERE venue_id = %s AND name = 'payment.succeeded'",
                           venue.venue_id)
    assert succeeded == [{"n": 1}]
    assert await rows(db, "SELECT count(*) AS n FROM payments WHERE order_id = %s", order_id) == [{"n": 1}]


async def test_a_webhook_sent_while_the_server_was_down_is_applied_once_on_redelivery(
        database_url: str, db: Database, venue: VenueKit, fakes: tuple[StripeFake, SimBank]) -> None:
    stripe, bank = fakes
    env = server_env(stripe, bank)
    token = venue.token("staff")
    async with server_process(database_url, instance="hook-a", env=env) as (a_base, a_proc):
        c = Cashier(a_base, venue)
        order_id, total = await c.order_for("Chips")
        started = await c.ok("payment.card_start", order_id=order_id, payment_id=new_id(), amount=total)
        a_proc.kill()
        await a_proc.wait()
    intent_id = started["client_secret"].split("_secret_")[0]
    point_callbacks("http://127.0.0.1:9", stripe, bank)            # nobody listening: delivery fails
    await stripe.customer_pays(intent_id)
    event = next(e for e in stripe.events if e["type"] == "payment_intent.succeeded")
    assert any(status != 200 for _, status in stripe.deliveries)
    async with server_process(database_url, instance="hook-b", env=env) as (b_base, _):
        point_callbacks(b_base, stripe, bank)
        with trio.fail_after(20):
            while (status := await stripe.deliver(event)) == 503:   # Stripe retries until the venue is back
                await trio.sleep(0.2)
        assert status == 200
        statuses = []
        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(lambda: _deliver(stripe, event, statuses))
        assert statuses == [200] * 5
        order = (await post(b_base, token, "order.get", {"order_id": order_id}))["result"]
        assert order["payment_status"] == "paid"
    applied = await rows(db, "SELECT count(*) AS n FROM events WHERE venue_id = %s AND name = 'payment.succeeded'",
                         venue.venue_id)
    assert applied == [{"n": 1}]
    receipts = await rows(db, "SELECT count(*) AS n FROM print_jobs WHERE order_id = %s AND kind = 'receipt'", order_id)
    assert receipts == [{"n": 1}]


async def _deliver(stripe: StripeFake, event: dict[str, Any], statuses: list[int]) -> None:
    statuses.append(await stripe.deliver(event))


async def test_a_slow_provider_never_blocks_the_orders_mailbox(database_url: str, settings, db: Database,  # type: ignore[no-untyped-def]
                                                               venue: VenueKit) -> None:
    from tests.payment_kit import payments_server

    async with payments_server(settings, database_url) as p:
        c = Cashier(p.server, venue)
        order_id, total = await c.order_for("Chips")
        p.stripe.fail_next("timeout", path_prefix="/v1/payment_intents")   # Stripe hangs (3 s provider timeout)
        replies: dict[str, Any] = {}

        async def start() -> None:
            replies["card"] = await c("payment.card_start", order_id=order_id, payment_id=new_id(), amount=total)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(start)
            await wait_for(lambda: len(p.stripe.intents) == 1)
            began = trio.current_time()
            added = await c.add(order_id, "Pint of IPA")           # the same order, while Stripe is silent
            assert trio.current_time() - began < 1.5 and "card" not in replies
        assert len(added["lines"]) == 2
        assert replies["card"]["error"]["code"] == "unavailable"          # retry with the same id
