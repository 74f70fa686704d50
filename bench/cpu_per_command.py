"""The server's CPU per command, in a closed loop: one terminal works, the others listen.

    .venv/bin/python bench/cpu_per_command.py [--listeners 49] [--orders 60]

Starts `fynlo serve` on a fresh database (the demo venue), as `make bench` does, and signs in
one terminal plus `--listeners` more. The first sends, one after another, `--orders` takeaway
orders of `order.open`, nine `order.add_item` with valid modifier choices and `order.send`;
the others only receive the events. Prints the server process's CPU (user + system, from
/proc) per command, PostgreSQL's (every process named `postgres` on this machine, so run it on
an otherwise idle one), and each command's latency. With 0 listeners it is the command path
alone; with 49, each command's fan-out to the rest of a dinner rush's terminals as well. The
listeners run in this process, so the latencies include its own work: the CPU is the figure.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sim.bench import (DEFAULT_ADMIN_URL, ProcessWatch, _free_port, fresh_database, process_cpu_s,  # noqa: E402
                       seed_database, server_env, server_process, set_up_venue)
from sim.client import TerminalClient  # noqa: E402
from sim.dinner import Menu  # noqa: E402
from sim.terminals import Session  # noqa: E402

ITEMS_PER_ORDER = 9
WARM_UP_ORDERS = 5


def _order(items: list[Any], rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    order_id = str(uuid.uuid4())
    steps = [("order.open", {"order_id": order_id, "kind": "takeaway"})]
    for item in rng.choices(items, k=ITEMS_PER_ORDER):
        steps.append(("order.add_item", {"order_id": order_id, "line_id": str(uuid.uuid4()), "item_id": item.id,
                                         "quantity": 1, "modifier_option_ids": item.choices(rng)}))
    steps.append(("order.send", {"order_id": order_id}))
    return steps


def postgres_cpu_s() -> float:
    """The CPU time (user + system) of every running process named `postgres`."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as comm:
                if comm.read().strip() == "postgres":
                    total += process_cpu_s(pid)
        except OSError:  # it ended meanwhile
            continue
    return total


async def _listen(base: str, session: Session) -> None:
    async with TerminalClient.connect(base, session.token, terminal_id=session.terminal_id, keep_events=False):
        await trio.sleep_forever()


async def measure(listeners: int, orders: int, command: list[str] | None = None) -> None:
    with fresh_database(DEFAULT_ADMIN_URL) as url, tempfile.TemporaryDirectory() as var:
        env = server_env(url, _free_port(), Path(var))
        seed_database(env)
        async with server_process(env, Path(var) / "server.log", command) as (base, pid):
            worker, *others = await set_up_venue(base, 1 + listeners, tables_per_terminal=1)
            async with trio.open_nursery() as nursery:
                for session in others:
                    nursery.start_soon(_listen, base, session)
                async with TerminalClient.connect(base, worker.token, terminal_id=worker.terminal_id,
                                                  keep_events=False) as client:
                    menu = Menu(await client.command_ok("menu.get"))
                    items = [item for kind, found in menu.by_kind.items() if kind != "drink" for item in found]
                    rng = random.Random(1)
                    latency: dict[str, list[float]] = {}

                    async def run(count: int) -> int:
                        sent = 0
                        for _ in range(count):
                            for name, args in _order(items, rng):
                                started = time.perf_counter()
                                await client.command_ok(name, args)
                                latency.setdefault(name, []).append(1000 * (time.perf_counter() - started))
                                sent += 1
                        return sent

                    await run(WARM_UP_ORDERS)
                    latency.clear()
                    watch = ProcessWatch(pid)
                    cpu, pg_cpu = watch.cpu_s(), postgres_cpu_s()
                    commands = await run(orders)
                    cpu, pg_cpu = watch.cpu_s() - cpu, postgres_cpu_s() - pg_cpu
                nursery.cancel_scope.cancel()
    print(f"{listeners} listeners, {commands} commands: server CPU {1000 * cpu / commands:.2f} ms per command,"
          f" PostgreSQL {1000 * pg_cpu / commands:.2f} ms")
    for name, values in latency.items():
        values.sort()
        print(f"  {name:16} p50 {values[len(values) // 2]:6.2f} ms  p90 {values[int(len(values) * 0.9)]:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=49)
    parser.add_argument("--orders", type=int, default=60)
    parser.add_argument("--server-command", default=None, help="instead of `python -m fynlo serve` (split on spaces)")
    args = parser.parse_args()
    trio.run(measure, args.listeners, args.orders, args.server_command.split() if args.server_command else None)


if __name__ == "__main__":
    main()
