"""The demo venue: seeded once into the database, then served on loopback.

The seed is idempotent: a second `make run` finds the venue and reuses it. Terminal tokens are
shown once by design, so the demo keeps its two, and its bridge's, in var/demo-terminals.json for the simulators.
"""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from typing import Any

import psycopg
from psycopg.rows import dict_row

from fynlo.config import Settings
from fynlo.demo_menu import seed_floor, seed_menu

VENUE_ID = "0f9e1c2a-5d34-4b6e-9a7f-3c8d2e1b4a60"
OWNER_EMAIL, PASSWORD = "demo@fynlo.local", "fynlo-demo"
MANAGER_EMAIL = "manager@fynlo.local"
# name, role, pin, email
STAFF = [
    ("Olivia Owner", "owner", "9000", OWNER_EMAIL),
    ("Maya Manager", "manager", "1111", MANAGER_EMAIL),
    ("Sam Server", "staff", "2222", None),
    ("Bea Bartender", "staff", "3333", None),
    ("Theo Server", "staff", "4444", None),
    ("Kit Kitchen", "kitchen", "5555", None),
]
TERMINALS = ["Front counter iPad", "Bar iPad"]
BRIDGE = "Back office bridge"
BARTENDER_PIN = "3333"
PLATFORM_FEE = {"platform_fee_percent": "1.00"}   # so the fee ledger has something to show


def seed(settings: Settings, url: str) -> dict[str, Any]:
    """Create the demo venue if missing; return what the banner shows."""
    from fynlo.auth.staff import create_staff
    from fynlo.auth.terminals import register_terminal

    tokens_file = settings.var_dir / "demo-terminals.json"
    with psycopg.connect(url, row_factory=dict_row) as conn:
        with conn.transaction():
            exists = conn.execute("SELECT 1 FROM venues WHERE id = %s", (VENUE_ID,)).fetchone()
            if not exists:
                conn.execute(
                    "INSERT INTO venues (id, name, settings) VALUES (%s, %s, %s)",
                    (VENUE_ID, "The Fynlo Arms", json.dumps({"address": "1 Demo Street, London", "currency": "GBP",
                                                             "timezone": "Europe/London", **PLATFORM_FEE})),
                )
                for name, role, pin, email in STAFF:
                    create_staff(conn, settings, VENUE_ID, name=name, role=role, pin=pin, email=email,
                                 password=PASSWORD if email else None)
                seed_menu(conn, VENUE_ID)
                seed_floor(conn, VENUE_ID)
                tokens_file.unlink(missing_ok=True)
            if not tokens_file.exists():
                owner = conn.execute("SELECT id FROM staff WHERE venue_id = %s AND role = 'owner'",
                                     (VENUE_ID,)).fetchone()["id"]
                terminals = []
                for name in TERMINALS:
                    terminal_id, token = register_terminal(conn, VENUE_ID, name, owner)
                    terminals.append({"name": name, "terminal_id": terminal_id, "terminal_token": token})
                bridge_id, bridge_token = register_terminal(conn, VENUE_ID, BRIDGE, owner, kind="bridge")
                tokens_file.parent.mkdir(parents=True, exist_ok=True)
                tokens_file.write_text(json.dumps({"terminals": terminals, "bridge": {
                    "bridge_id": bridge_id, "bridge_token": bridge_token}}, indent=2))
                tokens_file.chmod(0o600)
    return json.loads(tokens_file.read_text())


def banner(settings: Settings, seeded: dict[str, Any], providers: list[str]) -> str:
    """What the demo prints at start-up: its addresses, logins, staff PINs and terminal tokens."""
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        "Fynlo demo venue: The Fynlo Arms",
        f"  server        {base}",
        f"  health        {base}/healthz   ready: {base}/readyz",
        f"  API docs      {base}/docs      OpenAPI: {base}/openapi.json",
        f"  terminals     ws://{settings.host}:{settings.port}/ws/terminal",
        f"  owner login   {OWNER_EMAIL} / {PASSWORD}  (manager: {MANAGER_EMAIL} / {PASSWORD})",
        "  staff PINs    " + ", ".join(f"{name} ({role}) {pin}" for name, role, pin, _ in STAFF),
    ]
    for t in seeded["terminals"]:
        lines.append(f"  terminal      {t['name']}: id {t['terminal_id']} token {t['terminal_token']}")
    lines += [
        f"  bridge        {BRIDGE} (config {settings.var_dir / 'bridge.toml'})",
        f"  printers      kitchen, bar, receipt: what they print goes to {settings.var_dir / 'printers'}/<printer>.txt",
        "  cash drawer   main, on the receipt printer",
        *providers,
        "  Three simulated staff are taking orders and payments (cash, card, QR); each printed ticket,",
        "  each payment and each bottle scanned at the bar (rung up on the Bar iPad's tab) shows below.",
        "  Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def run_demo(settings: Settings, url: str) -> int:
    """Seed the demo venue and serve it on loopback, with simulated staff, printers, scanner and
    bridge, until Ctrl-C; returns the exit status."""
    import trio

    from fynlo import logs
    from fynlo.db import apply_migrations
    from fynlo.server import run_until_stopped, serve_forever

    settings = replace(settings, host="127.0.0.1")  # the demo listens on loopback only
    logs.configure(settings.log_level)
    apply_migrations(url)
    seeded = seed(settings, url)

    async def main() -> None:
        from fynlo import demo_venue

        async with demo_venue.payment_providers(settings) as (wired, providers), trio.open_nursery() as nursery:
            binds = await nursery.start(partial(serve_forever, wired, url, settle=True))
            server = binds[0]
            providers.point_at(server)
            ports = await demo_venue.start_printers(nursery, settings.var_dir / "printers")
            scanner = await demo_venue.start_scanner(nursery)
            bar_ipad = seeded["terminals"][1]["terminal_id"]
            config = demo_venue.bridge_config(settings.var_dir, server, ports, scanner.port, bar_ipad)
            nursery.start_soon(demo_venue.run_bridge, config, seeded["bridge"]["bridge_token"])
            print(banner(settings, seeded, providers.banner(wired)), flush=True)
            nursery.start_soon(demo_venue.run_terminals, server, providers.customers())
            nursery.start_soon(demo_venue.bar_till, server, seeded["terminals"][1], BARTENDER_PIN)
            nursery.start_soon(demo_venue.keep_scanning, scanner)

    try:
        trio.run(run_until_stopped, main)
    except* KeyboardInterrupt:  # Ctrl-C lands in whichever nursery was running, so it comes grouped
        pass
    return 0
