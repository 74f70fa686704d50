"""Everything the bridge says to the server and asks of it, over the link.

Two loops, both restarting their work after every reconnect:

* **pull** — on each (re)connect and on each ``job.queued`` event, ask ``job.pending`` and take
  every job into the spool. Dedupe is the spool's (a job id is inserted once), so asking too
  often costs a query, never a second print. Asking again on every ``job.queued`` (rather than
  trusting the event) is what makes a lost event harmless. ``job.pending`` lists the oldest
  unfinished jobs, ours included, so a backlog longer than a page is pulled again as jobs
  finish and leave the list.
* **report** — tell the server what it does not yet know: each job's status (``received`` as
  soon as it is spooled, then ``printed``/``failed``/``unknown``), device states, scans. Job
  outcomes stay unreported in the spool until the server acknowledges them, across
  reconnects and restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from bridge._config_model import Timing
from bridge._job import SpooledJob, WireJob
from bridge._signal import Signal
from bridge.errors import CommandRejected, LinkDown
from bridge.link import Frame, Link
from bridge.reports import Reports
from bridge.spool import Spool

__all__ = ["Courier"]

log = logging.getLogger("fynlo.bridge.courier")

PENDING_PAGE = 200
RECHECK_S = 5.0     # look again this often even without a wake-up: a transient refusal heals
# The server will never accept these, however often they are sent: note the refusal and move on.
_FINAL_REFUSALS = frozenset({"conflict", "not_found", "validation_error", "forbidden"})

Accept = Callable[[list[SpooledJob]], Awaitable[None]]


class Courier:
    """Owns the link; ``run()`` keeps it up and runs the pull and report loops."""

    def __init__(self, server: str, token: str, spool: Spool, timing: Timing, reports: Reports,
                 accept: Accept) -> None:
        self.spool, self.reports, self._accept = spool, reports, accept
        self._pull_wanted = Signal()
        self._backlog = False        # the last page was full: there may be more behind it
        self.link = Link(server, token, spool, timing, on_online=self._online, on_event=self._event)

    def _online(self) -> None:
        self._pull_wanted.set()
        self.reports.resend_devices()

    def _event(self, frame: Frame) -> None:
        if frame.get("name") == "job.queued":
            self._pull_wanted.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.link.run)
            nursery.start_soon(self._pull_loop)
            nursery.start_soon(self._report_loop)
            task_status.started()

    async def _pull_loop(self) -> None:
        while True:
            await self._pull_wanted.wait()
            try:
                await self._pull()
            except LinkDown:              # dropped, or no reply in time: ask again once up
                await self.link.wait_online()
                self._pull_wanted.set()
            except CommandRejected as exc:
                log.error("job.pending refused: %s; asking again in %g s", exc, RECHECK_S)
                await trio.sleep(RECHECK_S)
                self._pull_wanted.set()

    async def _pull(self) -> None:
        result = await self.link.call("job.pending", {"limit": PENDING_PAGE})
        raw = result.get("jobs", []) if isinstance(result, dict) else []
        self._backlog = len(raw) >= PENDING_PAGE
        jobs = []
        for entry in raw:
            try:
                jobs.append(WireJob.from_wire(entry))
            except (TypeError, ValueError) as exc:
                log.error("ignored a job the server sent: %s", exc)
        added = await self.spool.add(jobs)
        if added:
            log.info("spooled %d job(s): %s", len(added), ", ".join(f"{j.kind} {j.job_id[:8]}" for j in added))
            await self._accept(added)
            self.reports.job_changed()

    async def _report_loop(self) -> None:
        while True:
            await self.link.wait_online()
            try:
                await self._report_jobs()
                await self._report_devices()
                await self._report_scans()
            except LinkDown:
                continue
            except CommandRejected as exc:      # unavailable, rate_limited…: worth trying again
                log.warning("the server could not take a report now: %s", exc)
            await self.reports.wake.wait(RECHECK_S)

    async def _report_jobs(self) -> None:
        for job in await self.spool.unreported():
            status = job.report_status
            args: dict[str, Any] = {"job_id": job.job_id, "status": status, "device": job.device or job.station,
                                    "detail": job.detail[:500]}
            try:
                await self.link.call("job.report", args)
            except CommandRejected as exc:
                if exc.code not in _FINAL_REFUSALS:
                    raise
                log.warning("job %s: the server refused %s (%s); not reporting it again", job.job_id, status, exc)
            await self.spool.mark_reported(job.job_id, status)
            if self._backlog and status != "received":
                self._pull_wanted.set()     # it left the server's list: the next page moved up

    async def _report_devices(self) -> None:
        for report in self.reports.unsent_devices():
            try:
                await self.link.call("device.report", {"device": report.device, "kind": report.kind,
                                                       "status": report.status, "detail": report.detail[:500]})
            except CommandRejected as exc:
                if exc.code not in _FINAL_REFUSALS:
                    raise
                log.warning("device %s: the server refused its status: %s", report.device, exc)
            self.reports.device_sent(report)

    async def _report_scans(self) -> None:
        while (scan := self.reports.next_scan()) is not None:
            try:
                await self.link.call("scan.report", {"device": scan.device, "barcode": scan.barcode,
                                                     "terminal_id": scan.terminal_id})
            except LinkDown:
                self.reports.scan_unsent(scan)
                raise
            except CommandRejected as exc:
                log.warning("scan %r on %s refused: %s", scan.barcode, scan.device, exc)
