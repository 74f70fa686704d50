"""Many terminals at once against one venue: open-loop load, with latency and fan-out measured.

Open loop: each terminal draws exponential gaps between commands (a Poisson process at `rate`
per second) and sends on schedule whether or not its earlier commands were answered. A closed
loop (send, wait, send) slows down exactly when the server does and so hides the latency it
should measure; here a slow server shows up as slow acks, not as fewer commands.

Every terminal connects before the first command, so each write's event is owed to all of
them. After the load, the run waits (up to `drain` seconds) for replies and events still in
flight before it reports.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from contextlib import AsyncExitStack
from typing import Any, Sequence

import trio

from sim.client import TerminalClient
from sim.errors import TerminalClosed
from sim.fanout import FanoutTracker
from sim.http import login
from sim.mix import MIXES, Action, Fanout, pick
from sim.progress import Counters, show_progress
from sim.stats import summary_ms

__all__ = ["DEFAULT_SERVER", "DEMO_EMAIL", "DEMO_PASSWORD", "run_terminals"]

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEMO_EMAIL = "demo@fynlo.local"
DEMO_PASSWORD = "fynlo-demo"
DRAIN_POLL_S = 0.01


class _Run:
    """The shared state of one load run: counters, error codes and the fan-out tracker."""

    def __init__(self, terminals: int, actions: Sequence[Action], command_timeout: float) -> None:
        self.counters = Counters()
        self.errors: Counter[str] = Counter()
        self.writes = 0
        self.tracker = FanoutTracker(terminals)
        self.command_timeout = command_timeout
        self._fanouts: dict[str, Fanout] = {a.fanout.event: a.fanout for a in actions if a.fanout}

    def on_event(self, event: dict[str, Any], at: float) -> None:
        self.counters.events += 1
        fanout = self._fanouts.get(str(event.get("name")))
        data = event.get("data")
        if fanout is not None and isinstance(data, dict):
            marker = fanout.marker_in_event(data)
            if marker is not None:
                self.tracker.received(marker, at)

    def _error(self, code: str) -> None:
        self.counters.errors += 1
        self.errors[code] += 1

    async def one(self, client: TerminalClient, action: Action, args: dict[str, Any]) -> None:
        """Send one command and account for its outcome; never raises for a failed command."""
        self.counters.sent += 1
        try:
            reply, timing = await client.command_timed(action.name, args, timeout=self.command_timeout)
        except trio.TooSlowError:
            self._error("timeout")
            return
        except TerminalClosed:
            self._error("closed")
            return
        self.counters.replies += 1
        if not reply.get("ok"):
            self._error(str((reply.get("error") or {}).get("code")))
            return
        marker = action.fanout.marker_in_args(args) if action.fanout else None
        if marker is not None and timing.acked is not None:
            self.writes += 1
            self.tracker.acked(marker, timing.acked)


async def _load(client: TerminalClient, run: _Run, actions: Sequence[Action], rng: random.Random,
                rate: float, deadline: float) -> None:
    """One terminal's open-loop schedule until `deadline` (trio clock); waits for its replies."""
    async with trio.open_nursery() as nursery:
        at = trio.current_time()
        while not client.closed:
            at += rng.expovariate(rate)
            if at >= deadline:
                break
            await trio.sleep_until(at)
            action = pick(actions, rng)
            nursery.start_soon(run.one, client, action, action.make_args(rng))


async def _drain(run: _Run, seconds: float) -> None:
    """Give events of acknowledged writes up to `seconds` to reach every terminal."""
    with trio.move_on_after(seconds):
        while run.tracker.outstanding:
            await trio.sleep(DRAIN_POLL_S)


async def run_terminals(server: str = DEFAULT_SERVER, *, count: int, duration: float, rate: float,
                        token: str | None = None, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD,
                        mix: str = "venue", seed: int | None = None, progress: bool = False,
                        command_timeout: float = 10.0, drain: float = 5.0) -> dict[str, Any]:
    """Connect `count` terminals, drive them for `duration` seconds, and report what happened.

    Without `token`, signs in once by email and password and shares that token: one owner on
    many devices is enough to load the venue. The report has the benchmark's fields (CONTRACT.md,
    "Benchmark output": terminals, duration_s, commands, errors, ack_ms, fanout_ms) plus
    errors_by_code, writes, events, events_per_terminal, fanout_incomplete, anomalies (must
    be empty) and closed (terminals the server hung up on). Latencies are nearest-rank
    percentiles in milliseconds; errors include "timeout" and "closed" for unanswered commands.

    Raises:
        ValueError: a bad count, duration, rate or mix name.
        LoginFailed, HandshakeRefused, ServerUnreachable: the terminals could not get in.
    """
    if count < 1 or duration <= 0 or rate <= 0:
        raise ValueError("count must be ≥ 1, and duration and rate > 0")
    if mix not in MIXES:
        raise ValueError(f"unknown mix {mix!r}; choose from {', '.join(MIXES)}")
    actions = MIXES[mix]
    if token is None:
        token = (await login(server, email, password))["access_token"]
    rng = random.Random(seed)
    run = _Run(count, actions, command_timeout)
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(
                       TerminalClient.connect(server, token, keep_events=False, on_event=run.on_event))
                   for _ in range(count)]
        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            if progress:
                nursery.start_soon(show_progress, run.counters, started)
            deadline = trio.current_time() + duration
            async with trio.open_nursery() as load:
                for client in clients:
                    load.start_soon(_load, client, run, actions, random.Random(rng.getrandbits(64)), rate, deadline)
            await _drain(run, drain)
            nursery.cancel_scope.cancel()
        elapsed = time.perf_counter() - started
    latencies = [t.latency for c in clients for t in c.timings if t.latency is not None]
    return {
        "name": f"terminals-{mix}", "terminals": count, "duration_s": duration, "rate_per_terminal": rate,
        "elapsed_s": round(elapsed, 3), "commands": run.counters.sent, "replies": run.counters.replies,
        "errors": run.counters.errors, "errors_by_code": dict(run.errors), "writes": run.writes,
        "events": run.counters.events, "events_per_terminal": [c.event_count for c in clients],
        "ack_ms": summary_ms(latencies), "fanout_ms": summary_ms(run.tracker.latencies()),
        "fanout_incomplete": run.tracker.outstanding,
        "anomalies": [f"terminal {i}: {a}" for i, c in enumerate(clients) for a in c.anomalies],
        "closed": [f"terminal {i}: {c.close_code} {c.close_reason}" for i, c in enumerate(clients) if c.closed],
    }
