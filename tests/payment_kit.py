"""What the payment tests share: a server wired to the Stripe fake and the simulated bank."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, AsyncIterator

from fynlo.config import Settings
from fynlo.db import Database
from sim.bank import SimBank, open_sim_bank
from sim.stripe_fake import StripeFake, open_stripe_fake
from tests.support import VenueKit, new_id, running_server
from tests.test_orders import Waiter


@dataclass
class Payments:
    server: str
    stripe: StripeFake
    bank: SimBank
    settings: Settings


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
        async with running_server(wired, database_url) as server:
            point_callbacks(server, stripe, bank)
            yield Payments(server, stripe, bank, wired)


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


async def rows(db: Database, sql: str, *params: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in await db.run(lambda c: c.execute(sql, params).fetchall())]


def kit_cashier(server: str, kit: VenueKit, role: str = "staff") -> Cashier:
    return Cashier(server, kit, role)
