"""From the spool to paper: one queue and one task per printer.

Each job is routed by its station to the printer that serves it (a drawer kick to the printer
its drawer is wired to) and printed in arrival order. Printers never wait on each other: a
dead kitchen printer holds up the kitchen's tickets only.

A failed attempt leaves the job at the head of its printer's queue and the printer is tried
again after a growing pause (``retry_min`` → ``retry_max``); the failure is reported as the
device's status. Once a printer has been down for ``failover_after`` seconds, the printer
named as its ``backup`` takes its queued jobs, printed with "(backup printer for kitchen)".
What was sent decides how a job may come out again (``DeviceError.maybe_sent``): nothing
sent → still an original; possibly on paper → only ever a marked COPY, wherever it prints.

The idle task of each printer asks its status (DLE EOT) every ``status_poll`` seconds, so a
printer that runs out of paper or is switched off is noticed (and reported) between jobs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import trio

from bridge._config_model import BridgeConfig
from bridge._job import JobState, SpooledJob
from bridge._paper import Blocks
from bridge._printer_state import (
    PrinterPort,
    PrinterState,
    error_status,
    printer_status,
)
from bridge._routing import DRAWER_KICK, drawer_pin, route
from bridge.errors import LayoutError
from bridge.layout import render
from bridge.reports import DeviceReport, Reports
from bridge.spool import Spool
from devices import DeviceError, DeviceOffline

__all__ = ["Dispatcher", "PrinterPort"]

log = logging.getLogger("fynlo.bridge.dispatcher")


class _Stopped:
    """The outcome of a job the bridge stopped sending: it may be half on paper."""


_STOPPED = _Stopped()


class Dispatcher:
    """Routes spooled jobs to printers and drives them; ``run()`` starts one task per printer."""

    def __init__(self, config: BridgeConfig, spool: Spool, ports: Mapping[str, PrinterPort],
                 reports: Reports) -> None:
        self.config, self.spool, self.reports = config, spool, reports
        self.printers = {p.name: PrinterState(p, ports[p.name], config.timing) for p in config.printers}
        self._in_flight: set[str] = set()
        self._guards: set[trio.CancelScope] = set()
        self._stop_deadline = math.inf

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Queue what the spool still has to print, then drive every printer until cancelled."""
        await self.submit(await self.spool.waiting())
        async with trio.open_nursery() as nursery:
            for state in self.printers.values():
                nursery.start_soon(self._work, state, name=f"printer {state.name}")
            nursery.start_soon(self._stop_guards)
            task_status.started()

    async def submit(self, jobs: list[SpooledJob]) -> None:
        """Queue newly spooled jobs on their printers; a job no printer can take fails now."""
        for job in jobs:
            target, why = route(self.config, job)
            if target is None:
                log.error("job %s (%s for %s) cannot print: %s", job.job_id, job.kind, job.station, why)
                await self.spool.finish(job.job_id, JobState.FAILED, why)
                self.reports.job_changed()
                continue
            state = self.printers[target]
            state.jobs.append(job)
            state.wake.set()
            if state.config.backup:
                self.printers[state.config.backup].wake.set()

    def _next(self, state: PrinterState, now: float) -> tuple[SpooledJob, PrinterState] | None:
        """The next job for this printer, and whose queue it is in: a drawer kick first (a
        cashier is waiting), else the oldest head of its own queue and of the queues of
        printers it covers for. A queue whose head is being printed gives nothing until that
        attempt ends, so jobs do not overtake each other on the way to the backup."""
        kick = next((j for j in state.jobs if j.kind == DRAWER_KICK and j.job_id not in self._in_flight), None)
        if kick is not None:
            return kick, state
        queues = [] if self._covered(state, now) else [state]
        queues += [q for q in self.printers.values() if q.config.backup == state.name and self._covered(q, now)]
        heads = [(head, q) for q in queues if (head := self._head(q)) is not None]
        return min(heads, key=lambda pair: pair[0].position, default=None)

    def _head(self, queue: PrinterState) -> SpooledJob | None:
        first = next((j for j in queue.jobs if j.kind != DRAWER_KICK), None)
        return None if first is None or first.job_id in self._in_flight else first

    def _covered(self, state: PrinterState, now: float) -> bool:
        """Down past the grace with a working backup: the backup prints its jobs, and it is
        only asked for its status until it answers again (no race for the same jobs)."""
        backup = state.config.backup
        return backup is not None and state.adoptable(now) and not self.printers[backup].down

    async def _work(self, state: PrinterState) -> None:
        while True:
            now = trio.current_time()
            if state.down and now < state.retry_at:
                await trio.sleep_until(state.retry_at)
                continue
            picked = self._next(state, now)
            if picked is not None:
                await self._print(state, *picked)
                continue
            if not await state.wake.wait(max(0.0, self._idle_until(state, now) - now)):
                now = trio.current_time()
                if now >= state.next_poll or (state.down and now >= state.retry_at):
                    await self._poll(state)

    def _idle_until(self, state: PrinterState, now: float) -> float:
        """When an idle printer should look again: its next status poll, its next retry, or
        the moment a printer it backs up will have been down long enough to hand over its
        jobs (after that, the queues' changes wake it)."""
        times = [state.next_poll]
        if state.down:
            times.append(state.retry_at)
        for other in self.printers.values():
            if other.config.backup == state.name and other.down_since is not None:
                handover = other.down_since + other.timing.failover_after
                if handover > now:
                    times.append(handover)
        return min(times)

    async def _print(self, state: PrinterState, job: SpooledJob, owner: PrinterState) -> None:
        self._in_flight.add(job.job_id)   # before any await: no other printer may pick it now
        try:
            await self._print_once(state, job, owner)
        finally:
            self._in_flight.discard(job.job_id)

    async def _print_once(self, state: PrinterState, job: SpooledJob, owner: PrinterState) -> None:
        backup_for = job.station if owner is not state else None
        doc = None
        if job.kind != DRAWER_KICK:
            try:
                doc = render(job, state.config.chars, copy=job.marked_copy, backup_for=backup_for)
            except LayoutError as exc:
                await self._settle(owner, job, JobState.FAILED, f"cannot lay it out: {exc}")
                return
        claimed = await self.spool.claim(job.job_id, state.name)
        if claimed is None:     # not waiting in the spool any more: nothing to print
            owner.remove(job.job_id)
            return
        with trio.CancelScope(shield=True):   # what happened is recorded, even while stopping
            outcome = await self._attempt(state, claimed, doc)
            if outcome is None:
                await self._settle(owner, job, JobState.PRINTED, _printed_detail(claimed, state.name, backup_for),
                                   device=state.name)
                if state.down or self.reports.status_of(state.name) not in ("online", "paper_low"):
                    self._up(state, "")
            elif isinstance(outcome, DeviceError):
                await self._attempt_failed(state, owner, claimed, outcome)
            else:
                await self._settle(owner, job, JobState.UNKNOWN, f"the bridge was stopped while sending it to "
                                   f"{state.name}; it may have printed", device=state.name)

    async def _attempt(self, state: PrinterState, job: SpooledJob,
                       doc: Blocks | None) -> DeviceError | _Stopped | None:
        """Send the job once: None when the printer took it all, else what went wrong.

        Runs inside the caller's shield: a bridge asked to stop lets the job finish for
        ``stop_grace`` seconds (``_stop_guards``) rather than cut a ticket in half; past that
        the outcome is ``_Stopped``.
        """
        with trio.CancelScope(deadline=self._stop_deadline) as guard:
            self._guards.add(guard)
            try:
                if doc is None:
                    await state.port.kick_drawer(drawer_pin(self.config, job))
                else:
                    await state.port.print(doc)
                return None
            except DeviceError as exc:
                return exc
            finally:
                self._guards.discard(guard)
        return _STOPPED

    async def _stop_guards(self) -> None:
        """Sleeps until the dispatcher is cancelled, then gives jobs being sent their grace."""
        try:
            await trio.sleep_forever()
        finally:
            self._stop_deadline = trio.current_time() + self.config.timing.stop_grace
            for guard in self._guards:
                guard.deadline = min(guard.deadline, self._stop_deadline)

    async def _attempt_failed(self, state: PrinterState, owner: PrinterState, job: SpooledJob,
                              exc: DeviceError) -> None:
        detail = f"{state.name}: {exc}"
        self._down(state, error_status(exc), str(exc))
        if job.kind == DRAWER_KICK:   # a drawer that opens minutes later helps nobody: say so now
            outcome = JobState.UNKNOWN if exc.maybe_sent else JobState.FAILED
            await self._settle(owner, job, outcome, detail, device=state.name)
            return
        await self.spool.release(job.job_id, detail, maybe_sent=exc.maybe_sent)
        owner.replace(await self.spool.get(job.job_id))
        log.warning("%s %s on %s not printed (%s); %s", job.kind, job.job_id[:8], state.name, exc,
                    "only a marked COPY may follow" if exc.maybe_sent else "it stays queued")

    async def _settle(self, owner: PrinterState, job: SpooledJob, outcome: JobState, detail: str,
                      device: str | None = None) -> None:
        await self.spool.finish(job.job_id, outcome, detail, device)
        owner.remove(job.job_id)
        owner.wake.set()          # its next job may have waited for this one
        self.reports.job_changed()
        log.info("%s %s %s%s", job.kind, job.job_id[:8], outcome, f": {detail}" if detail else "")

    async def _poll(self, state: PrinterState) -> None:
        state.next_poll = trio.current_time() + state.config.status_poll
        try:
            status = await state.port.status()
        except DeviceOffline as exc:
            self._down(state, "offline", str(exc))
            return
        word, detail = printer_status(status)
        if word in ("online", "paper_low"):
            self._up(state, detail, word)
        else:
            self._down(state, word, detail)
        for drawer in self.config.drawers:
            if drawer.printer == state.name and status.drawer_open is not None:
                self.reports.device(DeviceReport(drawer.name, "drawer",
                                                 "drawer_open" if status.drawer_open else "drawer_closed"))

    def _down(self, state: PrinterState, word: str, detail: str) -> None:
        state.failed(trio.current_time())
        self.reports.device(DeviceReport(state.name, "printer", word, detail))
        if state.config.backup:
            self.printers[state.config.backup].wake.set()

    def _up(self, state: PrinterState, detail: str, word: str = "online") -> None:
        state.recovered()
        if self.reports.status_of(state.name) != word:
            self.reports.device(DeviceReport(state.name, "printer", word, detail))


def _printed_detail(job: SpooledJob, device: str, backup_for: str | None) -> str:
    """What the server is told beside ``printed`` when it came out other than as asked."""
    parts = []
    if backup_for:
        parts.append(f"on {device}, the backup printer for {backup_for}")
    if job.as_copy:
        parts.append(f"as a marked COPY: an earlier attempt may have printed ({job.detail})")
    return "; ".join(parts)
