"""How many times a command waits for PostgreSQL: its round trips, counted.

    .venv/bin/python bench/roundtrips.py [--rounds 5]

Runs the server in this process against a fresh database (the demo venue), through a TCP
proxy that holds every answer from PostgreSQL for 50 ms and counts turns: each time a
connection sends something after an answer reached it, it had waited once. Statements sent
without waiting for each other (a pipeline) count once together, which is the point: this
counts what costs a command latency, where bench/traced_server.py counts statements.

Each command of a dine-in order (open, add_item, send, fire_course, apply_discount,
print_bill, and the cash payment that settles it) goes over one WebSocket, as a terminal sends
it; the figure is the median over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fynlo.auth.tokens import mint_access
from fynlo.config import Settings
from fynlo.db import apply_migrations
from fynlo.demo import VENUE_ID, seed
from fynlo.demo_menu import FLOOR, seed_id
from fynlo.server import serve_forever
from sim.bench import DEFAULT_ADMIN_URL, fresh_database
from sim.client import TerminalClient
from sim.turns import TurnProxy, through

DELAY_S = 0.05


async def _order(client: TerminalClient, proxy: TurnProxy, table: str, till_id: str) -> dict[str, int]:
    """One dine-in order's commands, paid in cash, each with the turns it took."""
    order_id = str(uuid.uuid4())
    turns: dict[str, int] = {}

    async def command(name: str, label: str, **args: Any) -> Any:
        before = proxy.turns
        reply = await client.command(name, {"order_id": order_id, **args})
        turns[label] = proxy.turns - before
        if not reply["ok"]:
            raise RuntimeError(f"{name}: {reply['error']}")
        return reply["result"]

    await command("order.open", "order.open (dine-in, a new actor)", kind="dine_in", table=table, covers=2)
    for item, course in [("Fish & chips", 1), ("Chips", 1), ("Sticky toffee pudding", 2)]:
        await command("order.add_item", "order.add_item", line_id=str(uuid.uuid4()),
                      item_id=seed_id(VENUE_ID, "item", item), quantity=1, course=course)
    await command("order.send", "order.send (1 ticket fired, 1 held)")
    await command("order.fire_course", "order.fire_course", course=2)
    await command("order.apply_discount", "order.apply_discount (10 %)", kind="percent", value="10.00",
                  reason="regular")
    bill = await command("order.print_bill", "order.print_bill")
    due = bill["order"]["totals"]["total"]
    await command("payment.cash", "payment.cash (settles the order)", payment_id=str(uuid.uuid4()), amount=due,
                  tendered=due, till_id=till_id)
    return turns


async def measure(admin_url: str, rounds: int) -> dict[str, float]:
    """Per command, the median of its turns."""
    pg = psycopg.conninfo.conninfo_to_dict(admin_url)
    proxy = TurnProxy((pg.get("host") or "127.0.0.1", int(pg.get("port") or 5432)))
    with fresh_database(admin_url) as url, tempfile.TemporaryDirectory(prefix="fynlo-rt-") as var_dir:
        settings = replace(Settings.from_env(), database_url=through(url, proxy.port), port=0,
                           secret_key="roundtrips-" + uuid.uuid4().hex, var_dir=Path(var_dir), log_level="WARNING",
                           lease_ttl_s=600.0, lease_renew_s=300.0)  # no lease renewal among the commands
        apply_migrations(url)
        seed(settings, url)
        with psycopg.connect(url) as conn:
            staff_id = conn.execute("SELECT id FROM staff WHERE venue_id = %s AND role = 'staff' LIMIT 1",
                                    (VENUE_ID,)).fetchone()[0]
        token, _ = mint_access(settings, staff_id=str(staff_id), venue_id=VENUE_ID, role="staff",
                               terminal_id=None, family_id=None)
        tables = iter(seed_id(VENUE_ID, "table", name) for _, names in FLOOR for name, _ in names)
        counted: list[dict[str, int]] = []
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(serve_forever, settings, settings.database_url)
            async with TerminalClient.connect(binds[0], token, keep_events=False) as client:
                till = await client.command("till.open", {"till_id": str(uuid.uuid4()), "float": 10000,
                                                          "drawer": "main"})
                till_id = till["result"]["till_id"]
                await _order(client, proxy, next(tables), till_id)  # warm up: the venue claimed, the menu in memory
                proxy.delay = DELAY_S
                for _ in range(rounds):
                    counted.append(await _order(client, proxy, next(tables), till_id))
                proxy.delay = 0.0  # so that shutting down does not wait on slow answers
            nursery.cancel_scope.cancel()
    return {label: statistics.median(c[label] for c in counted) for label in counted[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="orders measured (at most 17: one table each)")
    args = parser.parse_args()
    admin = os.environ.get("FYNLO_TEST_DATABASE_URL") or DEFAULT_ADMIN_URL
    result = trio.run(measure, admin, args.rounds)
    print(f"{'command':40} {'round trips':>11}")
    for label, turns in result.items():
        print(f"{label:40} {turns:11g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
