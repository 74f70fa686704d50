"""Many terminals at once against one venue: open-loop load, with latency and fan-out measured.

Open loop: each terminal draws exponential gaps between ticks (a Poisson process at `rate`
per second) and sends on schedule whether or not its earlier commands were answered. A closed
loop (send, wait, send) slows down exactly when the server does and so hides the latency it
should measure; here a slow server shows up as slow acks, not as fewer commands.

What goes out at a tick is the mix's business (sim/steps.py): commands of one order go one at
a time, so a tick whose player has no idle lane waits for one (`queued` counts those ticks).
Ack latency is measured from the tick, not from the send, so that wait is included rather than
hidden; it ends when the reply reaches the terminal's host (the kernel's receive timestamp,
sim/websocket.py), as a fan-out ends when an event does. `ack_sent_ms` is the same from the
moment the frame was sent; `ack_read_ms` ends instead when the socket's reader takes the reply
(later when this process was busy with the other terminals' frames), and `ack_woken_ms` when
the sending task resumes with it: all three for comparison. A step
in which the world acts instead (a guest paying: `Step.outside`) takes no tick and is not timed.

Every terminal connects before the first command, so each write's event is owed to all of
them. After the load, the run waits (up to `drain` seconds) for replies and events still in
flight before it reports. A `Fleet` of connected terminals can be driven several times (the
benchmark's scenario, then its capacity ramp) without reconnecting.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter, deque
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, AsyncIterator, Awaitable, Callable, Sequence

import trio

from sim.client import SharedDecoder, TerminalClient
from sim.errors import TerminalClosed
from sim.fanout import FanoutTracker
from sim.http import login
from sim.mix import MIXES
from sim.progress import Counters, show_progress
from sim.stats import summary_ms
from sim.steps import Frame, Lane, Mix, Player, Step

__all__ = ["DEFAULT_SERVER", "DEMO_EMAIL", "DEMO_PASSWORD", "Fleet", "Session", "run_terminals"]

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEMO_EMAIL = "demo@fynlo.local"
DEMO_PASSWORD = "fynlo-demo"
DRAIN_POLL_S = 0.01
LAG_PROBE_S = 0.005
ERROR_SAMPLES = 10


@dataclass(frozen=True)
class Session:
    """How one terminal signs in: an access token, and the terminal it is bound to (if any)."""

    token: str
    terminal_id: str | None = None


class _Run:
    """The shared state of one load run: counters, latencies, error codes and fan-out."""

    def __init__(self, terminals: int, mix: Mix, command_timeout: float) -> None:
        self.counters = Counters()
        self.errors: Counter[str] = Counter()
        self.error_samples: list[str] = []  # the first few failures, as "command: code: message"
        self.ok_by_name: Counter[str] = Counter()
        self.events_by_name: Counter[str] = Counter()  # as terminal 0 saw them
        self.event_bytes: list[int] = []  # sizes of terminal 0's events, re-encoded compactly
        self.loop_lag: list[float] = []  # how late this process wakes from a 5 ms sleep
        self.writes = 0
        self.queued = 0
        self.from_tick: list[float] = []
        self.by_name: dict[str, list[float]] = {}  # acks from the tick, per command name
        self.from_send: list[float] = []
        self.to_read: list[float] = []   # from the tick to the socket's reader taking the reply
        self.to_woken: list[float] = []  # from the tick to the sending task resuming with the reply
        self.answered: list[tuple[str, str, float, float, float]] = []  # (id, name, tick, sent, acked)
        self.tracker = FanoutTracker(terminals)
        self.command_timeout = command_timeout
        self._markers = mix.events

    def on_event(self, index: int, event: dict[str, Any], at: float) -> None:
        self.counters.events += 1
        name = str(event.get("name"))
        if index == 0:
            self.events_by_name[name] += 1
            self.event_bytes.append(len(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()))
        marker_of = self._markers.get(name)
        data = event.get("data")
        if marker_of is not None and isinstance(data, dict):
            marker = marker_of(data)
            if marker is not None:
                self.tracker.received(marker, at)

    def _error(self, step: Step, code: str, message: str = "") -> None:
        self.counters.errors += 1
        self.errors[code] += 1
        if len(self.error_samples) < ERROR_SAMPLES:
            self.error_samples.append(f"{step.name}: {code}: {message}".rstrip(": "))

    async def one(self, client: TerminalClient, step: Step, scheduled: float) -> Frame | None:
        """Send one command due at `scheduled` (perf_counter seconds) and account for its
        outcome; return the reply, or None when none came. Never raises for a failed command."""
        self.counters.sent += 1
        try:
            reply, timing = await client.command_timed(step.name, step.args, timeout=self.command_timeout)
        except trio.TooSlowError:
            self._error(step, "timeout", f"no reply within {self.command_timeout:g} s")
            return None
        except TerminalClosed as exc:
            self._error(step, "closed", str(exc))
            return None
        self.counters.replies += 1
        assert timing.acked is not None
        self.answered.append((timing.id, step.name, scheduled, timing.sent, timing.acked))
        self.from_tick.append(timing.acked - scheduled)
        self.by_name.setdefault(step.name, []).append(timing.acked - scheduled)
        self.from_send.append(timing.acked - timing.sent)
        if timing.read is not None:
            self.to_read.append(timing.read - scheduled)
        if timing.woken is not None:
            self.to_woken.append(timing.woken - scheduled)
        if not reply.get("ok"):
            error = reply.get("error") or {}
            self._error(step, str(error.get("code")), f"{error.get('message')} {error.get('details') or ''}")
            return reply
        self.ok_by_name[step.name] += 1
        marker = step.marker(reply.get("result")) if step.marker else None
        if marker is not None:
            self.writes += 1
            self.tracker.acked(marker, timing.acked)
        return reply


class _Terminal:
    """One terminal's ticks, handed to its player's lanes as they come free."""

    def __init__(self, client: TerminalClient, run: _Run, player: Player, rng: random.Random,
                 nursery: trio.Nursery) -> None:
        self.client, self.run, self.player, self.rng, self.nursery = client, run, player, rng, nursery
        self.waiting: deque[float] = deque()  # ticks (perf_counter seconds) no lane could take yet

    def tick(self, scheduled: float) -> None:
        self.waiting.append(scheduled)
        self._dispatch()
        if self.waiting:
            self.run.queued += 1

    def _dispatch(self) -> None:
        while self.waiting:
            lane = self.player.lane(self.rng)
            if lane is None:
                return
            step = lane.step()
            if step.outside is not None:   # the world acting: it takes no tick (sim/steps.py)
                self.nursery.start_soon(self._outside, lane, step.outside)
                continue
            self.nursery.start_soon(self._send, lane, step, self.waiting.popleft())

    async def _send(self, lane: Lane, step: Step, scheduled: float) -> None:
        lane.done(await self.run.one(self.client, step, scheduled))
        self._dispatch()

    async def _outside(self, lane: Lane, act: Callable[[], Awaitable[Frame | None]]) -> None:
        lane.done(await act())
        self._dispatch()


async def _load(client: TerminalClient, run: _Run, player: Player, rng: random.Random,
                rate: float, deadline: float) -> None:
    """One terminal's open-loop schedule until `deadline` (trio clock); waits for its replies."""
    to_perf = time.perf_counter() - trio.current_time()  # trio's clock is perf_counter plus a constant
    async with trio.open_nursery() as nursery:
        terminal = _Terminal(client, run, player, rng, nursery)
        at = trio.current_time()
        while not client.closed:
            at += rng.expovariate(rate)
            if at >= deadline:
                break
            await trio.sleep_until(at)
            terminal.tick(at + to_perf)


async def _watch_loop(run: _Run) -> None:
    """The simulator's own scheduling delay: a tick or a frame it is late to handle adds to the
    latencies it reports, so the run says how late it was."""
    while True:
        before = time.perf_counter()
        await trio.sleep(LAG_PROBE_S)
        run.loop_lag.append(time.perf_counter() - before - LAG_PROBE_S)


async def _drain(run: _Run, seconds: float) -> None:
    """Give events of acknowledged writes up to `seconds` to reach every terminal."""
    with trio.move_on_after(seconds):
        while run.tracker.outstanding:
            await trio.sleep(DRAIN_POLL_S)


class Fleet:
    """Connected, welcomed terminals; `drive` them as often as needed. Make one with `connect`."""

    def __init__(self) -> None:
        self.clients: list[TerminalClient] = []
        self._run: _Run | None = None

    @classmethod
    @asynccontextmanager
    async def connect(cls, server: str, sessions: Sequence[Session]) -> AsyncIterator[Fleet]:
        """Connect one terminal per session, one after the other; close them all on exit.

        Raises:
            HandshakeRefused, ServerUnreachable: a terminal could not get in.
        """
        fleet = cls()
        decoder = SharedDecoder()
        async with AsyncExitStack() as stack:
            for index, session in enumerate(sessions):
                fleet.clients.append(await stack.enter_async_context(TerminalClient.connect(
                    server, session.token, terminal_id=session.terminal_id, keep_events=False,
                    on_event=partial(fleet._on_event, index), decoder=decoder)))
            yield fleet

    def _on_event(self, index: int, event: dict[str, Any], at: float) -> None:
        if self._run is not None:
            self._run.on_event(index, event, at)

    async def drive(self, mix: Mix, *, duration: float, rate: float, seed: int | None = None,
                    progress: bool = False, command_timeout: float = 10.0, drain: float = 5.0) -> dict[str, Any]:
        """Run `mix` (already prepared) for `duration` seconds at `rate` ticks per second per
        terminal; report what happened (see `run_terminals`)."""
        if duration <= 0 or rate <= 0:
            raise ValueError("duration and rate must be > 0")
        clients = self.clients
        run = _Run(len(clients), mix, command_timeout)
        events_before = [c.event_count for c in clients]
        anomalies_before = [len(c.anomalies) for c in clients]
        rng = random.Random(seed)
        self._run = run
        started = time.perf_counter()
        try:
            async with trio.open_nursery() as nursery:
                if progress:
                    nursery.start_soon(show_progress, run.counters, started)
                nursery.start_soon(_watch_loop, run)
                deadline = trio.current_time() + duration
                async with trio.open_nursery() as load:
                    for index, client in enumerate(clients):
                        load.start_soon(_load, client, run, mix.player(index, len(clients)),
                                        random.Random(rng.getrandbits(64)), rate, deadline)
                await _drain(run, drain)
                nursery.cancel_scope.cancel()
        finally:
            self._run = None
        elapsed = time.perf_counter() - started
        return {
            "terminals": len(clients), "duration_s": duration, "rate_per_terminal": rate,
            "elapsed_s": round(elapsed, 3), "commands": run.counters.sent, "replies": run.counters.replies,
            "errors": run.counters.errors, "errors_by_code": dict(run.errors),
            "error_samples": run.error_samples, "writes": run.writes,
            "queued": run.queued, "ok_by_name": dict(run.ok_by_name), "events": run.counters.events,
            "events_by_name": dict(run.events_by_name),
            "event_bytes": {"mean": round(sum(run.event_bytes) / len(run.event_bytes)) if run.event_bytes else None,
                            "max": max(run.event_bytes, default=None)},
            "sim_loop_lag_ms": summary_ms(run.loop_lag),
            "events_per_terminal": [c.event_count - n for c, n in zip(clients, events_before, strict=True)],
            "ack_ms": summary_ms(run.from_tick), "ack_sent_ms": summary_ms(run.from_send),
            "ack_read_ms": summary_ms(run.to_read), "ack_woken_ms": summary_ms(run.to_woken),
            "ack_ms_by_name": {name: summary_ms(acks) for name, acks in sorted(run.by_name.items())},
            "answered": run.answered,
            "fanout_ms": summary_ms(run.tracker.latencies()), "fanout_incomplete": run.tracker.outstanding,
            "outcomes": dict(getattr(mix, "outcomes", {})),
            "anomalies": [f"terminal {i}: {a}" for i, (c, n) in enumerate(zip(clients, anomalies_before, strict=True))
                          for a in c.anomalies[n:]],
            "closed": [f"terminal {i}: {c.close_code} {c.close_reason}" for i, c in enumerate(clients) if c.closed],
        }


async def run_terminals(server: str = DEFAULT_SERVER, *, count: int, duration: float, rate: float,
                        token: str | None = None, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD,
                        mix: str = "venue", seed: int | None = None, progress: bool = False,
                        command_timeout: float = 10.0, drain: float = 5.0) -> dict[str, Any]:
    """Connect `count` terminals, drive them for `duration` seconds, and report what happened.

    Without `token`, signs in once by email and password and shares that token: one owner on
    many devices is enough to load the venue. The report has the benchmark's fields (CONTRACT.md,
    "Benchmark output": terminals, duration_s, commands, errors, ack_ms, fanout_ms) plus
    errors_by_code, error_samples, writes, queued, ok_by_name, events, events_by_name, event_bytes,
    events_per_terminal, ack_sent_ms, ack_read_ms, ack_woken_ms, ack_ms_by_name, answered (every answered command
    as [id, name, tick, sent, acked], `time.perf_counter()` seconds), sim_loop_lag_ms (the simulator's own lateness),
    fanout_incomplete, outcomes (business outcomes the mix met and handled),
    anomalies (must be empty) and closed (terminals the server hung up on). Latencies are
    nearest-rank percentiles in milliseconds; errors include "timeout" and "closed" for
    unanswered commands.

    Raises:
        ValueError: a bad count, duration, rate or mix name.
        LoginFailed, HandshakeRefused, ServerUnreachable: the terminals could not get in.
    """
    if count < 1 or duration <= 0 or rate <= 0:
        raise ValueError("count must be ≥ 1, and duration and rate > 0")
    if mix not in MIXES:
        raise ValueError(f"unknown mix {mix!r}; choose from {', '.join(MIXES)}")
    if token is None:
        token = (await login(server, email, password))["access_token"]
    async with Fleet.connect(server, [Session(token)] * count) as fleet:
        behaviour = MIXES[mix]()
        await behaviour.prepare(fleet.clients[0])
        report = await fleet.drive(behaviour, duration=duration, rate=rate, seed=seed, progress=progress,
                                   command_timeout=command_timeout, drain=drain)
    return {"name": f"terminals-{mix}", **report}
