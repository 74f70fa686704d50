"""`python -m sim.bench` (`make bench`): the `dinner_rush` benchmark, end to end.

    python -m sim.bench [--terminals 50] [--duration 60] [--rate 0.5] [--floor-duration S]
                        [--ramp 10,15,25,35,50,…,400 | --no-ramp] [--ramp-step 8] [--seed 1]
                        [--takeaway-share 0.15] [--tables-per-terminal 3] [--cash-only] [--floor-under-load]
                        [--out bench/results/latest.json] [--strict] [--server-command CMD]

1. A fresh database on the PostgreSQL of FYNLO_TEST_DATABASE_URL (default the local
   postgresql://postgres@127.0.0.1:5432/postgres), migrated and seeded with the demo venue by
   bench/seed.py, run as a process of its own: setup goes through the project's code, the
   measured path does not.
2. `python -m fynlo serve` as a separate process on a free port (its log in bench/results/),
   and beside it the Stripe fake and the simulated bank in a process of their own
   (sim/providers.py), so that their HTTP work does not share the terminals' event loop.
3. Over the wire, as the demo owner: a "Function room" when the demo floor is too small for
   every server to have a section of `--tables-per-terminal` tables; one device registered
   per terminal, each signed in with a demo server's PIN, so every socket is its own terminal
   and staff session, as in a real venue.
4. `dinner_rush`: the dinner mix (sim/dinner.py; `--takeaway-share` of the orders are
   takeaways), open loop, `--rate` commands per second per terminal (Poisson), for
   `--duration` seconds. The server's RSS is sampled from /proc/<pid>/status throughout (the
   sign-in's peak is reported apart: it is setup, not the scenario).
5. The floor (sim/floor.py): one task per terminal committing a bare one-row INSERT at the same
   rate through `fynlo.db.Database`, on the same database, right after the scenario, for
   `--floor-duration` seconds (default 30: 750 commits at the default rate, plenty for a p99,
   and it keeps `make bench` near three minutes). `--floor-under-load` also runs it during the
   scenario, from a process of its own (a diagnostic: what the machine's load alone does to a
   bare commit).
6. The capacity ramp: the same terminals and mix at rising total rates (`--ramp`; each step
   lasts `--ramp-step` seconds, longer at low rates so that it has about 300 commands, up to
   20 s) until ack p99 reaches 50 ms or a command fails; `capacity_cps` is the last rate
   that passed (0 when none did).
7. `--out` gets one object per scenario (CONTRACT.md, "Benchmark output"; extra figures under
   `details`), and a table is printed.

The server is stopped and the database dropped on the way out, whatever happened. The exit
status says whether the benchmark ran, not whether the server met its goals (the table and
the JSON say that): 0 when it ran to the end, 2 when it could not be set up; `--strict` makes
a missed goal (errors included) exit 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import secrets
import shlex
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import httpx
import psycopg
import trio
from psycopg import sql

from sim.dinner import TAKEAWAY_SHARE, DinnerMix
from sim.child import stop
from sim.disk import DiskProbe
from sim.errors import SimError
from sim.floor import default_pool_size, measure_floor
from sim.http import command, login, pin_login, register_terminal
from sim.paying import Customers
from sim.providers import providers_process
from sim.terminals import DEMO_EMAIL, DEMO_PASSWORD, Fleet, Session

__all__ = ["GOALS", "main", "run_bench"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEMO_STAFF_PINS = ("2222", "3333", "4444")  # the demo venue's servers (fynlo/demo.py)
CAPACITY_P99_MS = 50.0
GOALS = {"ack_p99_over_floor_p99": 3.0, "fanout_p99_ms": 20.0, "errors": 0, "rss_mb": 200.0}
SIGN_IN_CONCURRENCY = 8
SERVE = [sys.executable, "-m", "fynlo", "serve"]
TABLES_PER_TERMINAL = 3
BUSY_WARNING_PCT = 20.0
SPEED_DRIFT_LIMIT = 0.25  # the machine may be this much slower or faster at one probe than another
DISK_STALL_MS = 50.0  # a 4 kB write and fdatasync this slow is the disk stalling, not our load
RAMP = "10,15,25,35,50,70,100,140,200,280,400"  # about ×1.4 a step: stops at the first failure
RAMP_STEP_COMMANDS = 300  # a step lasts long enough for this many commands (p99 = the 3rd worst)…
RAMP_STEP_MAX_S = 20.0  # …but no longer than this
FLOOR_S = 30.0
FLOOR_START_S = 3.0  # the floor under load's process starting up and filling its pool, inside the scenario


def say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the database and the server


def _with_dbname(url: str, dbname: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**info)


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on `admin_url`'s server; dropped (connections and all) on exit."""
    name = f"fynlo_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_dbname(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(url: str, port: int, var_dir: Path) -> dict[str, str]:
    """The environment of the seed and the server: same database and secret key (PIN lookups
    are keyed by it); every other setting at its default, as shipped."""
    return {**os.environ, "FYNLO_DATABASE_URL": url, "FYNLO_PORT": str(port), "FYNLO_HOST": "127.0.0.1",
            "FYNLO_SECRET_KEY": secrets.token_urlsafe(32), "FYNLO_VAR_DIR": str(var_dir),
            "FYNLO_INSTANCE_NAME": f"bench-{port}"}


def seed_database(env: dict[str, str]) -> None:
    """Migrate and seed the demo venue (bench/seed.py, its own process)."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "seed.py")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise SimError(f"seeding failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


@asynccontextmanager
async def server_process(env: dict[str, str], log_path: Path,
                         command: list[str] | None = None) -> AsyncIterator[tuple[str, int]]:
    """`command` (default `python -m fynlo serve`) until /readyz answers; yield its URL and
    pid. SIGTERM on exit (the server shuts down cleanly on it), SIGKILL after 10 s."""
    base = f"http://127.0.0.1:{env['FYNLO_PORT']}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = await trio.lowlevel.open_process(command or SERVE, env=env, cwd=ROOT,
                                                stdout=log, stderr=subprocess.STDOUT)
        try:
            with trio.fail_after(60):
                async with httpx.AsyncClient(base_url=base, timeout=2) as http:
                    while True:
                        if proc.returncode is not None:
                            raise SimError(f"fynlo serve exited with {proc.returncode}; see {log_path}")
                        try:
                            if (await http.get("/readyz")).status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                        await trio.sleep(0.1)
            yield base, proc.pid
        finally:
            await stop(proc, 10)


# ---------------------------------------------------------------- watching the server process


def process_cpu_s(pid: int | str) -> float:
    """A process's CPU time so far (user + system), from /proc. Raises OSError once it is gone."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class ProcessWatch:
    """Samples a process's resident memory (VmRSS) and CPU time from /proc every `interval`."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0  # since the last reset
        self.overall_kb = 0  # since the start
    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_s(self) -> float:
        return process_cpu_s(self.pid)

    def reset(self) -> None:
        self.peak_kb = self.rss_kb()

    async def run(self) -> None:
        while True:
            rss = self.rss_kb()
            self.peak_kb, self.overall_kb = max(self.peak_kb, rss), max(self.overall_kb, rss)
            await trio.sleep(self.interval)


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return float(sum(values) - idle), float(sum(values))


async def busy_before(seconds: float = 2.0) -> float:
    """How busy the machine is with the server idle (others' work: tests, builds), in % of one
    CPU: a run on a busy machine says so next to its figures."""
    busy, total = machine_busy()
    await trio.sleep(seconds)
    busy2, total2 = machine_busy()
    return round(100 * (busy2 - busy) / max(1.0, total2 - total) * (os.cpu_count() or 1), 1)


def machine_speed_ms() -> float:
    """How long a fixed piece of pure Python takes now, in ms (the best of three): a VM's speed
    can change by half within minutes, and a ratio of the scenario's p99 to a floor measured
    on a faster or slower machine says little about the server."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(200_000):
            total += i * i
        best = min(best, time.perf_counter() - start)
    return round(best * 1000, 2)


def speed_drift(speeds: dict[str, float]) -> float:
    """How much the slowest probe took longer than the fastest, as a fraction."""
    return round(max(speeds.values()) / min(speeds.values()) - 1, 2)


class CpuMeter:
    """CPU used over a phase: the server's, this process's (the simulator) and the machine's."""

    def __init__(self, watch: ProcessWatch) -> None:
        self.watch = watch

    def __enter__(self) -> CpuMeter:
        self._t = time.perf_counter()
        self._server = self.watch.cpu_s()
        self._self = time.process_time()
        self._busy, self._total = machine_busy()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t
        busy, total = machine_busy()
        self.figures = {
            "server_cpu_pct": round(100 * (self.watch.cpu_s() - self._server) / wall, 1),
            "sim_cpu_pct": round(100 * (time.process_time() - self._self) / wall, 1),
            "machine_busy_pct": round(100 * (busy - self._busy) / max(1.0, total - self._total) * os.cpu_count(), 1)
            if os.cpu_count() else None,
        }


# ---------------------------------------------------------------- the venue and its terminals


async def _ok(server: str, token: str, name: str, args: dict[str, Any], http: httpx.AsyncClient) -> Any:
    reply = await command(server, token, name, args, client=http)
    if not reply.get("ok"):
        raise SimError(f"{name} failed during setup: {reply.get('error')}")
    return reply["result"]


async def add_function_room(server: str, owner: str, tables: int, http: httpx.AsyncClient) -> None:
    """A "Function room" area with `tables` more tables (F1, F2…), over the wire as the owner."""
    area_id = str(uuid.uuid4())
    await _ok(server, owner, "floor.upsert_area", {"id": area_id, "name": "Function room", "position": 99}, http)
    for n in range(1, tables + 1):
        await _ok(server, owner, "floor.upsert_table", {"id": str(uuid.uuid4()), "area_id": area_id, "name": f"F{n}",
                                                          "seats": (4, 6, 2, 8)[n % 4], "position": n}, http)


async def set_up_venue(server: str, count: int, tables_per_terminal: int = TABLES_PER_TERMINAL) -> list[Session]:
    """Give every server a section of `tables_per_terminal` tables (a function room beside the
    demo floor when it is too small); register `count` devices as the demo owner and sign each
    in with a demo server's PIN."""
    async with httpx.AsyncClient(timeout=30) as http:
        owner = (await login(server, DEMO_EMAIL, DEMO_PASSWORD, client=http))["access_token"]
        floor = await _ok(server, owner, "floor.get", {}, http)
        have = sum(len(area["tables"]) for area in floor["areas"])
        if have < tables_per_terminal * count:
            await add_function_room(server, owner, tables_per_terminal * count - have, http)
        sessions: list[Session | None] = [None] * count
        limiter = trio.CapacityLimiter(SIGN_IN_CONCURRENCY)

        async def one(index: int) -> None:
            async with limiter:
                device = await register_terminal(server, owner, f"Bench terminal {index + 1}", client=http)
                pin = DEMO_STAFF_PINS[index % len(DEMO_STAFF_PINS)]
                staff = await pin_login(server, device["terminal_token"], pin, client=http)
                sessions[index] = Session(staff["access_token"], device["terminal_id"])

        async with trio.open_nursery() as nursery:
            for index in range(count):
                nursery.start_soon(one, index)
    return [s for s in sessions if s is not None]


# ---------------------------------------------------------------- the run


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def goals(result: dict[str, Any]) -> dict[str, bool]:
    d = result["details"]
    return {
        "ack_p99_over_floor_p99": d["ack_p99_over_floor_p99"] is not None
        and d["ack_p99_over_floor_p99"] <= GOALS["ack_p99_over_floor_p99"],
        "fanout_p99_ms": result["fanout_ms"]["p99"] is not None and result["fanout_ms"]["p99"] <= GOALS["fanout_p99_ms"],
        "errors": result["errors"] == GOALS["errors"] and not d["anomalies"] and not d["fanout_incomplete"],
        "rss_mb": result["rss_mb"] <= GOALS["rss_mb"],
    }


async def capacity_ramp(fleet: Fleet, mix: DinnerMix, rates: list[float], step_s: float, watch: ProcessWatch,
                        seed: int, min_commands: int = RAMP_STEP_COMMANDS) -> tuple[float, list[dict[str, Any]]]:
    """Rising total rates until ack p99 ≥ 50 ms or errors; the last rate that passed."""
    passed, steps = 0.0, []
    for n, total in enumerate(rates):
        seconds = max(step_s, min(RAMP_STEP_MAX_S, min_commands / total))  # enough samples for a p99
        say(f"capacity: {total:g} commands/s for {seconds:g} s")
        with CpuMeter(watch) as cpu:
            report = await fleet.drive(mix, duration=seconds, rate=total / len(fleet.clients), seed=seed + n, drain=2)
        p99 = report["ack_ms"]["p99"]
        ok = report["errors"] == 0 and report["commands"] > 0 and p99 is not None and p99 < CAPACITY_P99_MS
        steps.append({"rate_cps": total, "seconds": round(seconds, 1), "achieved_cps": round(report["commands"] / seconds, 1),
                      "commands": report["commands"], "errors": report["errors"], "ack_ms": report["ack_ms"],
                      "ack_sent_ms": report["ack_sent_ms"], "fanout_ms": report["fanout_ms"], "queued": report["queued"],
                      "sim_loop_lag_ms": report["sim_loop_lag_ms"],
                      "passed": ok, **cpu.figures})
        if not ok:
            break
        passed = total
    return passed, steps


async def _floor_into(into: dict[str, Any], url: str, tasks: int, rate: float, duration: float, seed: int) -> None:
    """The floor during the scenario, from a process of its own (sim/floor.py): neither the
    simulator's loop nor the server's delays it, only the machine's load."""
    done = await trio.run_process(
        [sys.executable, "-m", "sim.floor", "--url", url, "--tasks", str(tasks), "--rate", str(rate),
         "--duration", str(max(duration - FLOOR_START_S, 1.0)), "--seed", str(seed + 1)],
        cwd=ROOT, capture_stdout=True, capture_stderr=True, check=False)
    if done.returncode:
        raise SimError(f"the floor under load failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    into.update(json.loads(done.stdout))


async def run_bench(*, terminals: int = 50, duration: float = 60.0, rate: float = 0.5,
                    floor_duration: float | None = None, ramp: list[float] | None = None, ramp_step: float = 8.0,
                    seed: int = 1, out: Path = RESULTS / "latest.json", admin_url: str | None = None,
                    progress: bool = True, server_command: list[str] | None = None,
                    takeaway_share: float = TAKEAWAY_SHARE, tables_per_terminal: int = TABLES_PER_TERMINAL,
                    ramp_min_commands: int = RAMP_STEP_COMMANDS, floor_under_load: bool = False,
                    cash_only: bool = False) -> dict[str, Any]:
    """Set up, run `dinner_rush`, the floor and the ramp, write `out`; return the scenario's
    result (the object written). See the module docstring. `floor_under_load`: also run the
    floor during the scenario, from a process of its own (a diagnostic: what the machine's load
    alone does to a bare commit; it adds its commits to the scenario's), into
    `details.floor_under_load`.
    `cash_only`: every bill paid in cash, so that no command waits for a provider (a diagnostic)."""
    admin_url = admin_url or os.environ.get("FYNLO_TEST_DATABASE_URL") or DEFAULT_ADMIN_URL
    floor_duration = min(duration, FLOOR_S) if floor_duration is None else floor_duration
    started_at = datetime.now(timezone.utc)
    out.parent.mkdir(parents=True, exist_ok=True)
    with (fresh_database(admin_url) as url, tempfile.TemporaryDirectory(prefix="fynlo-bench-") as var_dir,
          DiskProbe(out.parent) as disk):
        port = _free_port()
        env = server_env(url, port, Path(var_dir))
        say(f"database {psycopg.conninfo.conninfo_to_dict(url)['dbname']}: migrating and seeding the demo venue")
        await trio.to_thread.run_sync(seed_database, env)
        async with (
            providers_process(f"http://127.0.0.1:{port}") as (providers, present_card),
            server_process({**env, **providers}, out.parent / "server.log", server_command) as (server, pid),
            trio.open_nursery() as nursery,
        ):
            watch = ProcessWatch(pid)
            nursery.start_soon(watch.run)
            say(f"server pid {pid} at {server}; signing in {terminals} terminals")
            sessions = await set_up_venue(server, terminals, tables_per_terminal)
            rss_setup_kb = watch.peak_kb
            async with Fleet.connect(server, sessions) as fleet:
                mix = DinnerMix(takeaway_share, customers=None if cash_only else Customers(card=present_card, qr=True))
                await mix.prepare(fleet.clients[0])
                say(f"dinner_rush: {terminals} terminals × {rate:g} commands/s for {duration:g} s")
                idle_busy = await busy_before()
                if idle_busy > BUSY_WARNING_PCT:
                    say(f"warning: the machine is already {idle_busy:g}% busy (of one CPU) before the load starts")
                speeds = {"before": machine_speed_ms()}
                # The simulator's own full collections would stall every terminal at once and
                # count against the server: what setup built is frozen, as the server does.
                gc.collect()
                gc.freeze()
                watch.reset()
                loaded: dict[str, Any] = {}
                with CpuMeter(watch) as scenario_cpu:
                    scenario_at = time.perf_counter()
                    async with trio.open_nursery() as beside:
                        if floor_under_load:
                            beside.start_soon(_floor_into, loaded, url, terminals, rate, duration, seed)
                        report = await fleet.drive(mix, duration=duration, rate=rate, seed=seed, progress=progress)
                rss_scenario_kb = watch.peak_kb
                disk_ms = {"scenario": disk.slowest_ms(scenario_at, time.perf_counter())}
                speeds["after_scenario"] = machine_speed_ms()
                # Every command's times, to join with a traced server's (bench/jointrace.py).
                (out.parent / "commands.json").write_text(json.dumps(report.pop("answered")) + "\n")
                say(f"floor: {terminals} tasks × {rate:g} INSERT+COMMIT/s for {floor_duration:g} s")
                with CpuMeter(watch) as floor_cpu:
                    floor_at = time.perf_counter()
                    floor = await measure_floor(url, tasks=terminals, rate=rate, duration=floor_duration, seed=seed)
                    disk_ms["floor"] = disk.slowest_ms(floor_at, time.perf_counter())
                speeds["after_floor"] = machine_speed_ms()
                capacity, steps = ((await capacity_ramp(fleet, mix, ramp, ramp_step, watch, seed, ramp_min_commands))
                                    if ramp else (None, []))
            rss_run_kb, rss_in_service_kb = watch.overall_kb, watch.peak_kb
            nursery.cancel_scope.cancel()
        pg = await trio.to_thread.run_sync(_postgres, url)
    result = {
        "name": "dinner_rush", "terminals": terminals, "duration_s": duration,
        "commands": report["commands"], "errors": report["errors"],
        "ack_ms": report["ack_ms"], "fanout_ms": report["fanout_ms"],
        "floor_commit_ms": {"p50": floor["p50"], "p99": floor["p99"]},
        "rss_mb": round(rss_scenario_kb / 1024, 1), "capacity_cps": capacity,
        "details": {
            "date": started_at.isoformat(timespec="seconds"), "machine": _machine(), "postgres": pg,
            "rate_per_terminal": rate, "seed": seed, "elapsed_s": report["elapsed_s"],
            "ack_p99_over_floor_p99": _ratio(report["ack_ms"]["p99"], floor["p99"]),
            "machine_speed_ms": speeds, "speed_drift": speed_drift(speeds),
            "disk_fdatasync_max_ms": disk_ms,
            "ack_measured_from": "the scheduled tick (open loop; includes any wait for the order's previous command)",
            "ack_measured_to": "the reply reaching the terminal's host (the kernel's receive timestamp)",
            "ack_sent_ms": report["ack_sent_ms"], "ack_read_ms": report["ack_read_ms"],
            "ack_woken_ms": report["ack_woken_ms"],
            "ack_ms_by_name": report["ack_ms_by_name"],
            "queued": report["queued"],
            "sim_loop_lag_ms": report["sim_loop_lag_ms"], "event_bytes": report["event_bytes"],
            "errors_by_code": report["errors_by_code"],
            "error_samples": report["error_samples"], "outcomes": report["outcomes"],
            "ok_by_name": report["ok_by_name"], "events_by_name": report["events_by_name"],
            "events": report["events"], "writes": report["writes"],
            "fanout_incomplete": report["fanout_incomplete"], "anomalies": report["anomalies"][:20],
            "closed": report["closed"],
            "floor_under_load": loaded or None,
            "floor": {**floor, "duration_s": floor_duration, "tasks": terminals, "rate_per_task": rate, **floor_cpu.figures},
            "cpu": {**scenario_cpu.figures, "machine_busy_before_pct": idle_busy}, "rss_mb_whole_run": round(rss_run_kb / 1024, 1),
            "rss_mb_sign_in": round(rss_setup_kb / 1024, 1),
            "rss_mb_after_sign_in": round(rss_in_service_kb / 1024, 1),  # scenario, floor and ramp
            "takeaway_share": takeaway_share, "paid_by": "cash" if cash_only else "cash, card and QR",
            "tables_per_terminal": tables_per_terminal,
            "capacity_steps": steps, "capacity_p99_limit_ms": CAPACITY_P99_MS,
        },
    }
    result["details"]["goals_met"] = goals(result)
    out.write_text(json.dumps([result], indent=2) + "\n")
    return result


def _postgres(url: str) -> dict[str, str]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        sync = conn.execute("SHOW synchronous_commit").fetchone()
        fsync = conn.execute("SHOW fsync").fetchone()
    return {"version": version[0] if version else "", "synchronous_commit": sync[0] if sync else "",
            "fsync": fsync[0] if fsync else ""}


def _machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "python_executable": os.path.realpath(sys.executable), "pool_size": default_pool_size()}


# ---------------------------------------------------------------- the table


def _speed_line(d: dict[str, Any]) -> str:
    """The machine's speed probes, and a warning when they moved enough to void the ratio."""
    probes = " / ".join(f"{v:g}" for v in d["machine_speed_ms"].values())
    warning = (f": it moved by {d['speed_drift']:.0%}, so the ratio above compares two machines"
               if d["speed_drift"] > SPEED_DRIFT_LIMIT else "")
    return f"  machine speed         {probes} ms for a fixed loop before the scenario, after it, after the floor{warning}"


def _disk_line(d: dict[str, Any]) -> str:
    """The slowest of the disk probe's fdatasyncs (sim/disk.py), and a warning when the disk stalled."""
    slowest = d["disk_fdatasync_max_ms"]
    stalled = [phase for phase, ms in slowest.items() if ms is not None and ms > DISK_STALL_MS]
    warning = (f": the disk stalled in the {' and the '.join(stalled)}, and every commit then waited for it"
               if stalled else "")
    return (f"  disk                  {_fmt(slowest['scenario'])} / {_fmt(slowest['floor'])} ms for the slowest 4 kB "
            f"fdatasync beside the scenario, the floor{warning}")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(result: dict[str, Any]) -> str:
    d, met = result["details"], result["details"]["goals_met"]

    def verdict(key: str) -> str:
        return "met" if met[key] else "MISSED"

    figures_by_label = {"ack (ms)": result["ack_ms"], "  from send (ms)": d["ack_sent_ms"],
                        "  to the read (ms)": d["ack_read_ms"], "  to the task (ms)": d["ack_woken_ms"], "fan-out (ms)": result["fanout_ms"],
                        "floor commit (ms)": d["floor"], "  under load (ms)": d["floor_under_load"],
                        "simulator lag (ms)": d["sim_loop_lag_ms"]}
    rows = [("", "p50", "p95", "p99", "max")]
    for label, figures in figures_by_label.items():
        if figures:  # the floor under load only when it was measured
            rows.append((label, *(_fmt(figures.get(k)) for k in ("p50", "p95", "p99", "max"))))
    width = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [f"dinner_rush — {result['terminals']} terminals × {d['rate_per_terminal']:g}/s for "
             f"{result['duration_s']:g} s, {d['date']}, {d['machine']['cpus']} CPUs, "
             f"Python {d['machine']['python']} ({d['machine']['python_executable']})"]
    lines += ["  " + "  ".join(cell.rjust(width[i]) if i else cell.ljust(width[i]) for i, cell in enumerate(r))
              for r in rows]
    codes = ", ".join(f"{k} {v}" for k, v in sorted(d["errors_by_code"].items())) or "none"
    capacity = "not measured" if result["capacity_cps"] is None else f"{result['capacity_cps']:g} commands/s"
    lines += [
        f"  commands {result['commands']} ({', '.join(f'{k} {v}' for k, v in sorted(d['ok_by_name'].items()))})",
        f"  ack p99 / floor p99   {_fmt(d['ack_p99_over_floor_p99'])}×   (goal ≤ {GOALS['ack_p99_over_floor_p99']:g}×)  "
        f"{verdict('ack_p99_over_floor_p99')}",
        _speed_line(d),
        _disk_line(d),
        f"  fan-out p99           {_fmt(result['fanout_ms']['p99'])} ms to all {result['terminals']} terminals  "
        f"(goal ≤ {GOALS['fanout_p99_ms']:g} ms)  {verdict('fanout_p99_ms')}",
        f"  errors                {result['errors']} ({codes}); anomalies {len(d['anomalies'])}, "
        f"fan-out incomplete {d['fanout_incomplete']}  (goal 0)  {verdict('errors')}",
        f"  server RSS            {result['rss_mb']:g} MB peak in the scenario  (goal ≤ {GOALS['rss_mb']:g} MB)  "
        f"{verdict('rss_mb')}; {d['rss_mb_after_sign_in']:g} MB through the floor and ramp; "
        f"{d['rss_mb_sign_in']:g} MB while {result['terminals']} terminals signed in",
        f"  CPU in the scenario   server {d['cpu']['server_cpu_pct']}%, simulator {d['cpu']['sim_cpu_pct']}%, "
        f"machine {d['cpu']['machine_busy_pct']}% (% of one CPU; {d['cpu']['machine_busy_before_pct']}% busy "
        "before the load: others' work)",
        f"  capacity              {capacity} with ack p99 < {d['capacity_p99_limit_ms']:g} ms",
    ]
    lines += [f"    {sample}" for sample in d["error_samples"][:5]]
    for s in d["capacity_steps"]:
        lines.append(f"    {s['rate_cps']:>6g}/s: achieved {s['achieved_cps']:g}/s, ack p99 {_fmt(s['ack_ms']['p99'])} ms, "
                     f"fan-out p99 {_fmt(s['fanout_ms']['p99'])} ms, errors {s['errors']}, server CPU "
                     f"{s['server_cpu_pct']}%, sim CPU {s['sim_cpu_pct']}%  {'pass' if s['passed'] else 'FAIL'}")
    lines.append("  percentiles are nearest-rank; ack counts from each command's scheduled time (open loop)")
    return "\n".join(lines)


# ---------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sim.bench", description="the dinner_rush benchmark")
    p.add_argument("--terminals", type=int, default=50)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of dinner_rush (default 60)")
    p.add_argument("--rate", type=float, default=0.5, help="commands per second per terminal (default 0.5)")
    p.add_argument("--floor-duration", type=float,
                   help=f"seconds of the floor measurement (default {FLOOR_S:g}, or --duration if shorter)")
    p.add_argument("--ramp", default=RAMP, help=f"total rates of the capacity ramp, commands/s (default {RAMP})")
    p.add_argument("--no-ramp", action="store_true", help="skip the capacity ramp (capacity_cps: null)")
    p.add_argument("--ramp-step", type=float, default=8.0,
                   help=f"seconds per ramp step at least (default 8; low rates run for {RAMP_STEP_COMMANDS} commands, "
                        f"up to {RAMP_STEP_MAX_S:g} s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--floor-under-load", action="store_true",
                   help="also measure the floor during the scenario (a diagnostic; adds its commits to the load)")
    p.add_argument("--takeaway-share", type=float, default=TAKEAWAY_SHARE,
                   help=f"share of orders that are takeaways while tables are free (default {TAKEAWAY_SHARE})")
    p.add_argument("--tables-per-terminal", type=int, default=TABLES_PER_TERMINAL,
                   help=f"tables in each server's section (default {TABLES_PER_TERMINAL})")
    p.add_argument("--cash-only", action="store_true",
                   help="every bill paid in cash: no command waits for a provider (a diagnostic)")
    p.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    p.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    p.add_argument("--server-command", help="serve with this instead of `python -m fynlo serve` "
                                            "(e.g. \"python bench/traced_server.py\"; `python` is this interpreter)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    ramp = None if args.no_ramp else [float(r) for r in args.ramp.split(",") if r.strip()]
    server_command = shlex.split(args.server_command) if args.server_command else None
    if server_command and server_command[0] == "python":
        server_command[0] = sys.executable
    try:
        result = trio.run(partial(run_bench, terminals=args.terminals, duration=args.duration, rate=args.rate,
                                  floor_duration=args.floor_duration, ramp=ramp, ramp_step=args.ramp_step,
                                  seed=args.seed, out=args.out, server_command=server_command,
                                  takeaway_share=args.takeaway_share, tables_per_terminal=args.tables_per_terminal,
                                  floor_under_load=args.floor_under_load, cash_only=args.cash_only))
    except (SimError, psycopg.OperationalError, httpx.TransportError, OSError) as exc:
        print(f"bench: could not run: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(table(result))
    print(f"results: {args.out}")
    met = result["details"]["goals_met"]
    return 1 if args.strict and not all(met.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
