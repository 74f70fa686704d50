"""The demo's moving parts around the server: simulated printers, a bridge, a few terminals.

Everything speaks the real protocols: the printers are ESC/POS simulators on loopback TCP
ports, the bridge is `fynlo bridge` in its own process with a generated config, and the terminals
are the simulator's staff placing a trickle of orders over WebSockets and taking the money for
them. Card and QR payments go through the loopback Stripe fake and the simulated bank, served in
this process (unless the operator configured real ones), whose webhooks reach the server over
HTTP like any provider's. What the printers print goes to var/printers/<printer>.txt, and a line
per job and per payment to the console.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from fynlo.config import Settings

if TYPE_CHECKING:
    from sim.bank import SimBank
    from sim.client import TerminalClient
    from sim.paying import Customers
    from sim.stripe_fake import StripeFake

PRINTERS = {"kitchen": ["kitchen"], "bar": ["bar"], "receipt": ["receipt"]}
DRAWER_PRINTER = "receipt"   # the cash drawer is cabled to the receipt printer (pin 2)
TERMINALS = 3
RATE_PER_TERMINAL = 1.0      # commands a second each: a steady evening (a first bill paid within half a minute)
RUN_FOR_S = 12 * 3600.0
REAUTH_AT = 0.8              # sign in again this far into an access token's life


def _console(name: str) -> Any:
    def show(text: str) -> None:
        first = next((line for line in text.splitlines() if line.strip()), "")
        print(f"[printer {name}] printed {len(text.splitlines())} lines: {first[:60]}", flush=True)

    return show


async def start_printers(nursery: trio.Nursery, folder: Path) -> dict[str, int]:
    """One ESC/POS printer simulator per station; returns name -> port."""
    from devices.sim import PrinterSimulator

    folder.mkdir(parents=True, exist_ok=True)
    ports = {}
    for name in PRINTERS:
        sim = PrinterSimulator(output_path=folder / f"{name}.txt", on_job=_console(name))
        ports[name] = await nursery.start(sim.serve, "127.0.0.1", 0)
    return ports


async def start_scanner(nursery: trio.Nursery) -> Any:
    """The bar's barcode scanner (serial over TCP, as pyserial's socket:// reaches it)."""
    from devices.sim import ScannerSimulator

    scanner = ScannerSimulator()
    await nursery.start(scanner.serve, "127.0.0.1", 0)
    return scanner


async def keep_scanning(scanner: Any) -> None:
    """Now and then the bartender scans a bottle (and once in a while something not on the menu)."""
    from fynlo.demo_menu import BARCODES

    codes = [*BARCODES.values(), "0000000000000"]
    for turn in range(int(RUN_FOR_S // 20)):
        await trio.sleep(20)
        code = codes[turn % len(codes)]
        await scanner.scan(code)
        print(f"[scanner bar] scanned {code}", flush=True)


def bridge_config(var_dir: Path, server: str, ports: dict[str, int], scanner_port: int, terminal_id: str) -> Path:
    """The bridge's TOML for the simulated devices (the same format a venue writes by hand)."""
    lines = [f'server = "{server}"', f'spool = "{(var_dir / "bridge-spool.sqlite3").resolve()}"', ""]
    for name, stations in PRINTERS.items():
        lines += ["[[printers]]", f'name = "{name}"', f"stations = {json.dumps(stations)}",
                  f'transport = "tcp://127.0.0.1:{ports[name]}"', "width = 80", ""]
    from sim.paying import DRAWER

    lines += ["[[drawers]]", f'name = "{DRAWER}"', f'printer = "{DRAWER_PRINTER}"', "pin = 2", ""]
    lines += ["[[scanners]]", 'name = "bar-scanner"', f'transport = "socket://127.0.0.1:{scanner_port}"',
              f'terminal_id = "{terminal_id}"', ""]
    path = var_dir / "bridge.toml"
    path.write_text("\n".join(lines))
    return path


async def run_bridge(config: Path, token: str) -> None:
    """`fynlo bridge` as its own process, as in a venue; stopped with the demo."""
    await trio.run_process([sys.executable, "-m", "fynlo", "bridge", "--config", str(config), "--token", token],
                           check=False)


@dataclass(frozen=True)
class Providers:
    """The demo's own Stripe fake and bank, where the operator did not configure real ones."""

    stripe: StripeFake | None
    bank: SimBank | None

    def point_at(self, server: str) -> None:
        """Send their webhooks to the server, as one registers a webhook endpoint with Stripe."""
        if self.stripe is not None:
            self.stripe.webhook_url = f"{server}/api/v1/webhooks/stripe"
        if self.bank is not None:
            self.bank.callback_url = f"{server}/api/v1/webhooks/openbanking"

    def customers(self) -> Customers:
        """Guests who can pay by card when the card reader is ours (the fake), and by QR when
        the bank's pay page is (sim/paying.py); against real providers, they pay cash."""
        from sim.paying import Customers

        return Customers(card=self.stripe.customer_pays if self.stripe else None, qr=self.bank is not None)

    def banner(self, settings: Settings) -> list[str]:
        real = "; the simulated guests pay otherwise"
        card = (f"Stripe fake at {self.stripe.url} (key {self.stripe.secret_key})" if self.stripe
                else f"Stripe at {settings.stripe_api_base or 'api.stripe.com'} (FYNLO_STRIPE_SECRET_KEY{real})")
        qr = (f"simulated bank at {self.bank.url} (a guest's page: {self.bank.url}/pay/<request id>)" if self.bank
              else f"bank at {settings.bank_api_base} (FYNLO_BANK_API_BASE{real})")
        return [f"  card          {card}", f"  QR payments   {qr}"]


@asynccontextmanager
async def payment_providers(settings: Settings) -> AsyncIterator[tuple[Settings, Providers]]:
    """Serve the Stripe fake and the bank on free loopback ports for the block, unless
    FYNLO_STRIPE_SECRET_KEY / FYNLO_BANK_API_BASE name real ones; yields the settings the server
    needs to reach them."""
    from sim.bank import open_sim_bank
    from sim.stripe_fake import open_stripe_fake

    async with AsyncExitStack() as stack:
        stripe = bank = None
        if not settings.stripe_secret_key:
            stripe = await stack.enter_async_context(open_stripe_fake())
            settings = replace(settings, stripe_secret_key=stripe.secret_key, stripe_api_base=stripe.url,
                               stripe_webhook_secret=stripe.webhook_secret)
        if not settings.bank_api_base:
            bank = await stack.enter_async_context(open_sim_bank())
            settings = replace(settings, bank_api_base=bank.url, bank_api_key=bank.api_key,
                               bank_webhook_secret=bank.webhook_secret)
        yield settings, Providers(stripe, bank)


def _pounds(minor: int) -> str:
    return f"£{minor // 100}.{minor % 100:02d}"


def show_payment(event: dict[str, Any], at: float) -> None:
    """A console line per payment taken, whoever took it (its receipt prints just after)."""
    if event["name"] != "payment.succeeded":
        return
    p = event["data"]
    how = {"cash": "cash", "card": "card", "open_banking": "QR (bank transfer)"}.get(p["method"], p["method"])
    extra = f", tendered {_pounds(p['tendered'])}, change {_pounds(p['change'])}" if p.get("change") else ""
    extra += f", tip {_pounds(p['tip'])}" if p.get("tip") else ""
    print(f"[payment] {_pounds(p['amount'])} by {how}{extra}", flush=True)


async def keep_signed_in(clients: Sequence[TerminalClient], sign_in: Callable[[], Awaitable[dict[str, Any]]],
                         session: dict[str, Any]) -> None:
    """Sign in again before each access token expires and hand the new one to every socket
    (an `auth` frame): a socket whose token has expired gets `unauthenticated` for every command."""
    while True:
        await trio.sleep(max(10.0, float(session["expires_in"]) * REAUTH_AT))
        session = await sign_in()
        for client in clients:
            await client.auth(session["access_token"])


async def run_terminals(server: str, customers: Customers) -> None:
    """A few servers taking orders: open tables, add dishes with their options, send, bill,
    take the money, close the order (sim/dinner.py). One till, on the receipt printer's drawer."""
    from sim.client import TerminalClient
    from sim.dinner import DinnerMix
    from sim.http import login
    from sim.terminals import DEMO_EMAIL, DEMO_PASSWORD, Fleet, Session

    await trio.sleep(2)  # let the bridge sign in first, so the first tickets print at once
    sign_in = partial(login, server, DEMO_EMAIL, DEMO_PASSWORD)
    session = await sign_in()
    token = session["access_token"]
    async with Fleet.connect(server, [Session(token)] * TERMINALS) as fleet, \
            TerminalClient.connect(server, token, keep_events=False, on_event=show_payment) as console, \
            trio.open_nursery() as nursery:
        nursery.start_soon(keep_signed_in, [*fleet.clients, console], sign_in, session)
        mix = DinnerMix(customers=customers)
        await mix.prepare(fleet.clients[0])
        await fleet.drive(mix, duration=RUN_FOR_S, rate=RATE_PER_TERMINAL)
        nursery.cancel_scope.cancel()


async def bar_till(server: str, terminal: dict[str, str], pin: str) -> None:
    """The Bar iPad, as the bartender uses it: every bottle scanned at the bar goes on the bar
    tab (an open takeaway order) and is sent; a code not on the menu is said on the console."""
    import uuid

    from sim.client import TerminalClient
    from sim.errors import CommandFailed
    from sim.http import pin_login

    sign_in = partial(pin_login, server, terminal["terminal_token"], pin)
    session = await sign_in()
    scans_in, scans = trio.open_memory_channel[dict[str, Any]](100)

    def on_event(event: dict[str, Any], at: float) -> None:
        if event["name"] == "scan" and event["data"].get("terminal_id") == terminal["terminal_id"]:
            scans_in.send_nowait(event["data"])

    async with TerminalClient.connect(server, session["access_token"], terminal_id=terminal["terminal_id"],
                                      keep_events=False, on_event=on_event) as till, trio.open_nursery() as nursery:
        nursery.start_soon(keep_signed_in, [till], sign_in, session)
        menu = await till.command_ok("menu.get")
        tab = str(uuid.uuid4())
        await till.command_ok("order.open", {"order_id": tab, "kind": "takeaway"})
        async for data in scans:
            if data["item"] is None:
                print(f"[bar till] {data['barcode']} is not on the menu", flush=True)
                continue
            item_id = data["item"]["item_id"]
            try:
                await till.command_ok("order.add_item", {"order_id": tab, "line_id": str(uuid.uuid4()),
                                                         "item_id": item_id, "modifier_option_ids": as_bottle(menu, item_id)})
                await till.command_ok("order.send", {"order_id": tab})
            except CommandFailed as exc:    # an item changed since the menu was read: say so, go on
                print(f"[bar till] could not ring up {data['item']['name']}: {exc}", flush=True)
                continue
            print(f"[bar till] rang up {data['item']['name']} on the bar tab", flush=True)


def as_bottle(menu: dict[str, Any], item_id: str) -> list[str]:
    """The options a scanned item needs: in each group that requires a choice, "Bottle" where
    there is one (a scanned bottle is sold whole), else the first options available."""
    item = next(i for i in menu["items"] if i["id"] == item_id)
    groups = {g["id"]: g for g in menu["modifier_groups"]}
    chosen: list[str] = []
    for group in (groups[g] for g in item.get("modifier_group_ids", []) if g in groups):
        options = [o for o in group["options"] if o.get("available", True)]
        options.sort(key=lambda o: o["name"] != "Bottle")
        chosen += [o["id"] for o in options[: int(group["min_choices"])]]
    return chosen
