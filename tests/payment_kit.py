"""What the payment tests share: a server wired to the Stripe fake and the simulated bank."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import trio
from hypercorn.trio import serve

from fynlo.config import Settings
from fynlo.db import Database
from fynlo.payments.sweep import sweep_once
from fynlo.web.context import Services
from sim.bank import SimBank, open_sim_bank
from sim.http import client_for
from sim.stripe_fake import StripeFake, open_stripe_fake
from tests.support import VenueKit, new_id
from tests.test_orders import Waiter


@dataclass
class Payments:
    server: str
    stripe: StripeFake
    bank: SimBank
    settings: Settings
    services: Services | None = None

    async def sweep(self) -> int:
        """Run the payments sweep once, now, in the server's own process (its timer runs every
        5 s as well; each step is idempotent, so the two may overlap)."""
        assert self.services is not None
        extras = self.services.extras
        return await sweep_once(self.services.db, extras["host"], extras["dispatcher"])


def provider_settings(settings: Settings, stripe: StripeFake, bank: SimBank) -> Settings:
    return replace(settings, stripe_secret_key=stripe.secret_key, stripe_webhook_secret=stripe.webhook_secret,
                   stripe_api_base=stripe.url, bank_api_base=bank.url, bank_api_key=bank.api_key,
                   bank_webhook_secret=bank.webhook_secret, provider_timeout_s=3.0)


@asynccontextmanager
async def providers() -> AsyncIterator[tuple[StripeFake, SimBank]]:
    async with open_stripe_fake() as stripe, open_sim_bank() as bank:
        yield stripe, bank


def point_callbacks(server: str, stripe: StripeFake, bank: SimBank) -> None:
    stripe.webhook_url = f"{server}/api/v1/webhooks/stripe"
    bank.callback_url = f"{server}/api/v1/webhooks/openbanking"


@asynccontextmanager
async def payments_server(settings: Settings, database_url: str) -> AsyncIterator[Payments]:
    async with providers() as (stripe, bank):
        wired = provider_settings(settings, stripe, bank)
        async with serving_with_services(wired, database_url) as (server, svc):
            point_callbacks(server, stripe, bank)
            yield Payments(server, stripe, bank, wired, svc)


@asynccontextmanager
async def serving_with_services(settings: Settings, database_url: str) -> AsyncIterator[tuple[str, Services]]:
    """What `fynlo.server.serve_forever` does, keeping hold of the services, so a test can
    run the sweep in the server's process instead of waiting for its timer."""
    from fynlo.server import hypercorn_config, running_services
    from fynlo.web.app import create_app

    async with running_services(settings, database_url) as svc, trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, create_app(svc), hypercorn_config(settings)))  # type: ignore[arg-type]
        yield binds[0], svc
        nursery.cancel_scope.cancel()


class Cashier(Waiter):
    """A member of staff who also takes money."""

    async def order_for(self, *items: str, table: str | None = None) -> tuple[str, int]:
        order_id = await self.open(table)
        order: dict[str, Any] = {}
        for item in items:
            order = await self.add(order_id, item)
        return order_id, order["totals"]["total"]

    async def open_till(self, float_: int = 10000, drawer: str = "main") -> str:
        till_id = new_id()
        await self.ok("till.open", till_id=till_id, float=float_, drawer=drawer)
        return till_id

    async def cash(self, order_id: str, amount: int, tendered: int | None = None, **args: Any) -> dict[str, Any]:
        return await self("payment.cash", order_id=order_id, payment_id=new_id(), amount=amount,
                          tendered=amount if tendered is None else tendered, **args)

    async def card(self, order_id: str, amount: int, *, payment_id: str | None = None, **args: Any) -> dict[str, Any]:
        """payment.card_start; the reply (ok or not)."""
        return await self("payment.card_start", order_id=order_id, payment_id=payment_id or new_id(),
                          amount=amount, **args)

    async def qr(self, order_id: str, amount: int, *, payment_id: str | None = None, **args: Any) -> dict[str, Any]:
        """payment.qr_start; the reply (ok or not)."""
        return await self("payment.qr_start", order_id=order_id, payment_id=payment_id or new_id(),
                          amount=amount, **args)

    async def refund(self, order_id: str, amount: int, *, payment_id: str | None = None,
                     refund_id: str | None = None, **args: Any) -> dict[str, Any]:
        """payment.refund with the manager's approval PIN; the reply (ok or not)."""
        extra = {"payment_id": payment_id} if payment_id else {}
        return await self("payment.refund", order_id=order_id, refund_id=refund_id or new_id(), amount=amount,
                          reason=args.pop("reason", "customer unhappy"),
                          approval={"pin": self.kit.people["manager"].pin}, **extra, **args)


async def rows(db: Database, sql: str, *params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in await db.run(lambda c: c.execute(sql, params).fetchall())]


def kit_cashier(server: str, kit: VenueKit, role: str = "staff") -> Cashier:
    return Cashier(server, kit, role)


async def send(server: str, token: str, name: str, command_id: str, **args: Any) -> dict[str, Any]:
    """One command under a chosen id (a terminal's retry re-sends the same id)."""
    body = {"type": "command", "id": command_id, "name": name, "args": args}
    async with client_for(server, base_url=server, timeout=30) as http:
        response = await http.post("/api/v1/commands", json=body, headers={"Authorization": f"Bearer {token}"})
    return response.json()


async def event_names(db: Database, venue_id: str, payment_id: str | None = None) -> list[str]:
    """The venue's events in order; with `payment_id`, only those about that payment."""
    found = await rows(db, "SELECT name, data FROM events WHERE venue_id = %s ORDER BY seq", venue_id)
    return [e["name"] for e in found
            if payment_id is None or (isinstance(e["data"], dict) and e["data"].get("payment_id") == payment_id)]


async def payment_row(db: Database, payment_id: str) -> dict[str, Any]:
    found = await rows(db, "SELECT * FROM payments WHERE id = %s", payment_id)
    assert len(found) == 1, found
    return found[0]


def intent_id(result: dict[str, Any]) -> str:
    """The PaymentIntent behind a card payment's reply (its client secret is `<intent>_secret_…`)."""
    return str(result["client_secret"]).split("_secret_")[0]


def stripe_posts(stripe: StripeFake, path: str) -> list[str | None]:
    """The idempotency keys of every POST the fake received on `path`, in order."""
    return [key for method, p, key in stripe.calls if method == "POST" and p == path]


def bank_request_id(result: dict[str, Any]) -> str:
    """The bank's payment request behind a QR payment's reply (its URL ends in the request id)."""
    return str(result["qr_url"]).rsplit("/", 1)[1]


async def money_footprint(db: Database, pay: Payments, venue_id: str) -> dict[str, Any]:
    """Everything a refused money command must leave as it was: the venue's events, its orders'
    money, payments, refunds, cash ledgers, tills, Z reports and print jobs, and what the Stripe
    fake and the simulated bank were asked to create."""
    def read(c: Any) -> dict[str, Any]:
        def q(sql: str) -> list[dict[str, Any]]:
            return [dict(r) for r in c.execute(sql, (venue_id,)).fetchall()]
        return {
            "last_seq": q("SELECT last_seq FROM venues WHERE id = %s"),
            "orders": q("SELECT id, version, status, payment_status, paid FROM orders WHERE venue_id = %s ORDER BY id"),
            "payments": q("SELECT id, status, amount, captured, refunded FROM payments WHERE venue_id = %s ORDER BY id"),
            "refunds": q("SELECT id, status, amount FROM refunds WHERE venue_id = %s ORDER BY id"),
            "ledger": q("SELECT l.id, l.kind, l.amount FROM cash_ledger l JOIN tills t ON t.id = l.till_id"
                        " WHERE t.venue_id = %s ORDER BY l.id"),
            "tills": q("SELECT id, status, counted, z_number FROM tills WHERE venue_id = %s ORDER BY id"),
            "z_reports": q("SELECT count(*) FROM z_reports WHERE venue_id = %s"),
            "jobs": q("SELECT id FROM print_jobs WHERE venue_id = %s ORDER BY id"),
        }
    return {**await db.run(read), "stripe": (len(pay.stripe.intents), len(pay.stripe.refunds)),
            "bank": (len(pay.bank.requests), len(pay.bank.refunds))}
