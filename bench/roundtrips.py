"""How many times a command waits for PostgreSQL: its round trips, counted.

    .venv/bin/python bench/roundtrips.py [--rounds 5]

Runs the server in this process against a fresh database (the demo venue), through a TCP
proxy that holds every answer from PostgreSQL for 50 ms and counts turns: each time a
connection sends something after an answer reached it, it had waited once. Statements sent
without waiting for each other (a pipeline) count once together, which is the point: this
counts what costs a command latency, where bench/traced_server.py counts statements.

Each command of a dine-in order (open, add_item, send, fire_course, apply_discount,
print_bill) goes over one WebSocket, as a terminal sends it; the figure is the median over
the rounds.
"""

from __future__ import annotations

import argparse
import os
import queue
import socket
import statistics
import sys
import tempfile
import threading
import time
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

DELAY_S = 0.05


class TurnProxy:
    """A TCP proxy to PostgreSQL that holds each answer for `delay` seconds and counts the
    times a client sent something after an answer had reached it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.delay = 0.0
        self.turns = 0
        self._target = target
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self._listener.accept()
            server = socket.create_connection(self._target)
            answered = [False]
            for src, dst, up in ((client, server, True), (server, client, False)):
                chunks: queue.Queue[tuple[float, bytes]] = queue.Queue()
                threading.Thread(target=self._read, args=(src, chunks, up, answered), daemon=True).start()
                threading.Thread(target=self._write, args=(dst, chunks, up, answered), daemon=True).start()

    def _read(self, sock: socket.socket, chunks: queue.Queue[tuple[float, bytes]], up: bool,
              answered: list[bool]) -> None:
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if up and data:
                with self._lock:
                    self.turns += answered[0]
                    answered[0] = False
            chunks.put((time.monotonic() + (0.0 if up else self.delay), data))
            if not data:
                return

    def _write(self, sock: socket.socket, chunks: queue.Queue[tuple[float, bytes]], up: bool,
               answered: list[bool]) -> None:
        while True:
            due, data = chunks.get()
            if not data:
                sock.close()
                return
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                sock.sendall(data)
            except OSError:
                return
            if not up:
                with self._lock:
                    answered[0] = True


def _via(url: str, port: int) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info.update(host="127.0.0.1", port=str(port))
    return psycopg.conninfo.make_conninfo(**info)


async def _order(client: TerminalClient, proxy: TurnProxy, table: str) -> dict[str, int]:
    """One dine-in order's commands, each with the turns it took."""
    order_id = str(uuid.uuid4())
    turns: dict[str, int] = {}

    async def command(name: str, label: str, **args: Any) -> None:
        before = proxy.turns
        reply = await client.command(name, {"order_id": order_id, **args})
        turns[label] = proxy.turns - before
        if not reply["ok"]:
            raise RuntimeError(f"{name}: {reply['error']}")

    await command("order.open", "order.open (dine-in, a new actor)", kind="dine_in", table=table, covers=2)
    for item, course in [("Fish & chips", 1), ("Chips", 1), ("Sticky toffee pudding", 2)]:
        await command("order.add_item", "order.add_item", line_id=str(uuid.uuid4()),
                      item_id=seed_id(VENUE_ID, "item", item), quantity=1, course=course)
    await command("order.send", "order.send (1 ticket fired, 1 held)")
    await command("order.fire_course", "order.fire_course", course=2)
    await command("order.apply_discount", "order.apply_discount (10 %)", kind="percent", value="10.00",
                  reason="regular")
    await command("order.print_bill", "order.print_bill")
    return turns


async def measure(admin_url: str, rounds: int) -> dict[str, float]:
    """Per command, the median of its turns."""
    pg = psycopg.conninfo.conninfo_to_dict(admin_url)
    proxy = TurnProxy((pg.get("host") or "127.0.0.1", int(pg.get("port") or 5432)))
    with fresh_database(admin_url) as url, tempfile.TemporaryDirectory(prefix="fynlo-rt-") as var_dir:
        settings = replace(Settings.from_env(), database_url=_via(url, proxy.port), port=0,
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
                await _order(client, proxy, next(tables))  # warm up: the venue claimed, the menu in memory
                proxy.delay = DELAY_S
                for _ in range(rounds):
                    counted.append(await _order(client, proxy, next(tables)))
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
