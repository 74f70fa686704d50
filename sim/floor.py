"""The benchmark's floor: what a bare single-row INSERT + COMMIT costs on the same database, at
the same concurrency and rate as the terminals (CONTRACT.md, "Benchmark output").

    python -m sim.floor --url URL [--tasks 50] [--rate 0.5] [--duration 30] [--seed 1]

runs it in a process of its own and prints its figures as one JSON line: how `sim.bench
--floor-under-load` measures the floor during the scenario from an otherwise idle process, so
that neither the simulator's event loop nor the server's delays it.

This is the one module of `sim/` that imports `fynlo` beyond `fynlo.wire`, on purpose: the
floor is defined as a commit *through the project's own database layer and pool*
(`fynlo.db.Database`: psycopg's pool driven from Trio worker threads, one thread crossing per
transaction), so a command's ack can be compared with the cheapest durable write the server
could possibly make. It measures the database path the server uses, from the outside of any
command; the simulator proper (`sim/__init__` and the terminals) never imports it.

One task per terminal runs its own open-loop Poisson schedule at the terminals' rate; each tick
starts one `Database.run` that inserts one row and commits. Latency counts from the tick, as
the terminals' acks do, so a pool too small for the load would show here too.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from functools import partial

import trio

from fynlo.config import Settings
from fynlo.db import Database
from sim.stats import summary_ms

__all__ = ["FLOOR_TABLE", "default_pool_size", "main", "measure_floor"]

FLOOR_TABLE = "bench_floor"
_CREATE = (f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id bigserial PRIMARY KEY,"
           " at timestamptz NOT NULL DEFAULT now(), task int NOT NULL, note text NOT NULL)")
_INSERT = f"INSERT INTO {FLOOR_TABLE} (task, note) VALUES (%s, %s)"


def default_pool_size() -> int:
    """The server's pool size as its settings would choose it (FYNLO_DB_POOL_SIZE or the default)."""
    return Settings.from_env().db_pool_size


async def _task(db: Database, index: int, rng: random.Random, rate: float, deadline: float,
                samples: list[float]) -> None:
    to_perf = time.perf_counter() - trio.current_time()

    async def one(scheduled: float) -> None:
        await db.run(lambda conn: conn.execute(_INSERT, (index, "floor")))
        samples.append(time.perf_counter() - scheduled)

    async with trio.open_nursery() as nursery:
        at = trio.current_time()
        while True:
            at += rng.expovariate(rate)
            if at >= deadline:
                break
            await trio.sleep_until(at)
            nursery.start_soon(one, at + to_perf)


async def measure_floor(url: str, *, tasks: int, rate: float, duration: float, pool_size: int | None = None,
                        seed: int | None = None) -> dict[str, float | int | None]:
    """`tasks` tasks, each committing one-row INSERTs at `rate` per second (Poisson) for
    `duration` seconds through a `fynlo.db.Database` of `pool_size` connections (the server's
    default when None). Returns p50, p95, p99 and max in milliseconds, the sample count and the
    pool size.

    Raises:
        fynlo.errors.Unavailable: the database could not be reached.
    """
    size = pool_size or default_pool_size()
    samples: list[float] = []
    rng = random.Random(seed)
    async with Database.open(url, size=size) as db:
        await db.run(lambda conn: conn.execute(_CREATE))
        async with trio.open_nursery() as warm:  # fill the pool before the clock starts
            for _ in range(size):
                warm.start_soon(db.ping)
        deadline = trio.current_time() + duration
        async with trio.open_nursery() as nursery:
            for index in range(tasks):
                nursery.start_soon(_task, db, index, random.Random(rng.getrandbits(64)), rate, deadline, samples)
    return {**summary_ms(samples), "samples": len(samples), "pool_size": size}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sim.floor", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the database (a libpq URL)")
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--rate", type=float, default=0.5, help="commits per second per task")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args(argv)
    figures = trio.run(partial(measure_floor, args.url, tasks=args.tasks, rate=args.rate, duration=args.duration,
                               seed=args.seed))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
