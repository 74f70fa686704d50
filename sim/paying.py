"""Settling the bill: how the dinner mix's servers take money, and how its guests pay.

At the start of a run the servers open one till on the venue's cash drawer (`till.open`, a
£100 float), or carry on with the till already open on it (an earlier run, another simulator):
one drawer shared by every server, as behind a pub's bar. When an order's bill is printed the
guests pay what it shows as due, by

    cash    `payment.cash` with what they hand over: the exact money, or a note or two
            more, so the reply's change is real; the drawer kicks
    card    `payment.card_start` (a card presented, a tip sometimes on dine-in bills), then
            the guest taps: `Customers.card(intent_id)`, the card reader's side of Stripe
    QR      `payment.qr_start`, then the guest opens the QR's URL on their phone and approves
            on the bank's page (`GET`/`POST <qr_url>`), as a person would

and the order is completed (`order.complete`). A card or QR payment is settled by the
provider's webhook, not by the terminal, so the server waits for the `payment.succeeded`
event naming it (the mix reads that event through `Mix.events`, returning no marker) before
completing, as the app does. The guest's part is an *outside* step (sim/steps.py): the world
acting, not a command, so it is neither counted nor timed.

Without `Customers` (the benchmark's server has no Stripe or bank), every bill is paid in
cash. A method the server answers `unavailable` for is dropped for the rest of the run, and
later bills paid in cash; that one order is left open, because the server keeps the refused
attempt pending, and a pending attempt holds what the order owes (a cash payment would find
nothing due).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx
import trio

from sim.errors import CommandFailed
from sim.http import client_for
from sim.steps import Frame, Step, order_marker

if TYPE_CHECKING:
    from sim.client import TerminalClient

__all__ = ["Customers", "Payments"]

FLOAT = 10_000            # £100 in the drawer at the start
DRAWER = "main"
SHARES = {"cash": 0.3, "card": 0.55, "qr": 0.15}   # of bills, when guests can pay every way
TIP_SHARE = 0.4           # dine-in card bills with a tip of about 10%
EXACT_CASH_SHARE = 0.3    # cash bills paid with the exact money
SETTLE_WAIT_S = 10.0      # how long a server waits for the provider's word before giving up
Script = Generator[Step, "Frame | None", bool]


def _new_id() -> str:
    return str(uuid.uuid4())


def order_of(result: Any) -> str | None:
    """A payment's marker: the order it changed, as in the `order.updated` event it causes."""
    return order_marker(result.get("order")) if isinstance(result, dict) else None


def tendered(due: int, rng: random.Random) -> int:
    """What a guest hands over: the exact money, or the next £5, £10 or £20 up."""
    if rng.random() < EXACT_CASH_SHARE:
        return due
    step = rng.choice((500, 1000, 2000))
    return -(-due // step) * step


@dataclass(frozen=True)
class Customers:
    """The guests' side of card and QR payments.

    `card(intent_id)` presents a card to the PaymentIntent (in the demo, the loopback Stripe
    fake's `customer_pays`: Stripe has no HTTP call for "a card was tapped", so the demo, which
    owns the fake, lends it). `qr`: guests can scan the QR and approve on the bank's page,
    which is plain HTTP and needs nothing but the URL.
    """

    card: Callable[[str], Awaitable[object]] | None = None
    qr: bool = False
    shares: Mapping[str, float] = field(default_factory=lambda: dict(SHARES))   # method -> weight

    @property
    def methods(self) -> tuple[str, ...]:
        return ("cash", *(("card",) if self.card else ()), *(("qr",) if self.qr else ()))


async def approve_on_bank_page(url: str) -> None:
    """Open the payment page the QR points at and press Pay, as a guest's phone does.

    Raises:
        httpx.HTTPError: the page could not be had or did not take the payment.
    """
    # A client that verifies loads the CA bundle as it is made, while every terminal stands still.
    async with client_for(url, timeout=SETTLE_WAIT_S) as http:
        (await http.get(url)).raise_for_status()
        (await http.post(url)).raise_for_status()


class Payments:
    """The till the servers' cash goes into, the guests, and the payments awaited."""

    def __init__(self, customers: Customers | None = None, *, drawer: str = DRAWER, float_: int = FLOAT) -> None:
        self.customers = customers or Customers()
        self.drawer, self.float = drawer, float_
        self.till_id: str | None = None
        self.dropped: set[str] = set()     # methods the server said it cannot take
        self._awaited: dict[str, trio.Event] = {}

    async def open_till(self, client: TerminalClient) -> None:
        """Open the drawer's till, or join the one already open on it.

        Raises:
            CommandFailed: the till could not be opened for another reason.
        """
        reply = await client.command("till.open", {"till_id": _new_id(), "float": self.float, "drawer": self.drawer})
        error = reply.get("error") or {}
        details = error.get("details") or {}
        if reply.get("ok"):
            self.till_id = reply["result"]["till_id"]
        elif details.get("reason") == "drawer_has_open_till":
            self.till_id = str(details["till_id"])
        else:
            raise CommandFailed(error)

    def heard(self, data: Any) -> None:
        """A `payment.succeeded` event (the mix's hook in `Mix.events`): wake its waiter."""
        awaited = self._awaited.get(str(data.get("payment_id"))) if isinstance(data, dict) else None
        if awaited is not None:
            awaited.set()

    def settle(self, view: dict[str, Any], rng: random.Random) -> Script:
        """Pay what `view` (the order) shows as due and complete the order; False if it failed."""
        due, order_id = int(view["due"]), view["order_id"]
        if due > 0:
            methods = [m for m in self.customers.methods if m not in self.dropped]
            weights = [self.customers.shares.get(m, 0.0) for m in methods]
            method = rng.choices(methods, weights)[0] if sum(weights) > 0 else "cash"
            paid = yield from self._take(method, order_id, due, view, rng)
            if paid is None:
                self.dropped.add(method)
            if not paid:
                return False
        reply = yield Step("order.complete", {"order_id": order_id}, order_marker)
        return bool(reply and reply.get("ok"))

    def _take(self, method: str, order_id: str, due: int, view: dict[str, Any],
              rng: random.Random) -> Generator[Step, Frame | None, bool | None]:
        """One attempt; None when the server cannot take `method` at all (`unavailable`)."""
        payment_id = _new_id()
        args: dict[str, Any] = {"order_id": order_id, "payment_id": payment_id, "amount": due}
        if method == "cash":
            reply = yield Step("payment.cash", {**args, "tendered": tendered(due, rng), "till_id": self.till_id},
                               order_of)
            return bool(reply and reply.get("ok"))
        if method == "card":
            tip = round(due * 0.1) if view.get("kind") == "dine_in" and rng.random() < TIP_SHARE else 0
            reply = yield Step("payment.card_start", {**args, "tip": tip, "present": True})
        else:
            reply = yield Step("payment.qr_start", args)
        if not reply or not reply.get("ok"):
            return None if (reply or {}).get("error", {}).get("code") == "unavailable" else False
        result = reply["result"]
        if result["status"] == "succeeded":
            return True
        if method == "card":
            intent_id = str(result["client_secret"]).split("_secret_")[0]
            assert self.customers.card is not None
            guest = partial(self.customers.card, intent_id)
        else:
            guest = partial(approve_on_bank_page, str(result["qr_url"]))
        heard = yield Step(f"guest pays by {method}", {}, outside=lambda: self._until_paid(payment_id, guest))
        return heard is not None

    async def _until_paid(self, payment_id: str, guest: Callable[[], Awaitable[object]]) -> Frame | None:
        """The guest pays; then wait for the server to hear it from the provider."""
        paid = self._awaited[payment_id] = trio.Event()
        try:
            await guest()
            with trio.move_on_after(SETTLE_WAIT_S):
                await paid.wait()
        except (httpx.HTTPError, KeyError, ValueError):
            return None                     # the page or the fake refused: the order is left open
        finally:
            del self._awaited[payment_id]
        return {"ok": True} if paid.is_set() else None

