"""What one terminal has heard from its venue: events checked for order, and the socket's end.

The contract promises events gap-free and increasing per venue, replayed from `last_seq` after
a reconnect. The log checks every seq against that promise and records a violation as an
`Anomaly` instead of raising: under load the simulator's job is to count violations, and one
exception would end the measurement that should report them.

Waiting is one `trio.Event` replaced on every change (a frame arrived, the socket closed);
each waiter re-checks its own condition. A terminal has a handful of waiters at most, so
waking them all is cheaper than keeping a queue per kind of wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import trio

from sim.errors import TerminalClosed

__all__ = ["Anomaly", "EventLog", "OnEvent"]

OnEvent = Callable[[dict[str, Any], float], None]


@dataclass(frozen=True, slots=True)
class Anomaly:
    """A broken promise: `kind` is "gap", "duplicate" or "bad_frame"."""

    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


class EventLog:
    """Events in arrival order, the last seq, anomalies, and whether the socket is closed."""

    def __init__(self, *, keep_events: bool = True, on_event: OnEvent | None = None) -> None:
        self.keep_events = keep_events
        self.on_event = on_event
        self.events: list[dict[str, Any]] = []
        self.times: list[float] = []
        self.anomalies: list[Anomaly] = []
        self.last_seq = 0
        self.count = 0
        self.closed = False
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._cursor = 0
        self._changed = trio.Event()

    def start(self, seq: int) -> None:
        """The first event expected is `seq + 1` (from the welcome and the hello's last_seq)."""
        self.last_seq = seq

    def receive(self, event: dict[str, Any], at: float) -> None:
        """Record one event frame received at `at` (perf_counter seconds)."""
        seq = event.get("seq")
        if type(seq) is not int:
            self.anomalies.append(Anomaly("bad_frame", f"event without an integer seq: {str(event)[:200]}"))
        elif seq <= self.last_seq:
            self.anomalies.append(Anomaly("duplicate", f"seq {seq} after {self.last_seq}"))
        else:
            if seq != self.last_seq + 1:
                self.anomalies.append(Anomaly("gap", f"expected seq {self.last_seq + 1}, got {seq}"))
            self.last_seq = seq
            self.count += 1
            if self.keep_events:
                self.events.append(event)
                self.times.append(at)
            if self.on_event is not None:
                self.on_event(event, at)
        self.tick()

    def close(self, code: int | None, reason: str | None) -> None:
        self.closed, self.close_code, self.close_reason = True, code, reason
        self.tick()

    def tick(self) -> None:
        """Something changed: wake every waiter to re-check its condition."""
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(self, ready: Callable[[], bool], timeout: float) -> None:
        """Return once `ready()` holds.

        Raises:
            trio.TooSlowError: not within `timeout` seconds.
            TerminalClosed: the socket closed first (what arrived before the close still counts).
        """
        with trio.fail_after(timeout):
            while not ready():
                if self.closed:
                    raise TerminalClosed(self.close_code, self.close_reason)
                await self._changed.wait()

    async def next(self, timeout: float) -> dict[str, Any]:
        """The oldest event not yet taken by `next`."""
        if not self.keep_events:
            raise RuntimeError("this terminal was connected with keep_events=False")
        await self.wait_until(lambda: len(self.events) > self._cursor, timeout)
        self._cursor += 1
        return self.events[self._cursor - 1]
