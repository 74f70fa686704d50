"""One printer as the dispatcher sees it: its queue, whether it is down, when to try again.

Kept apart from the dispatcher's loop so the rules (backoff, what a status means, when a
backup may take over) read in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from bridge._config_model import PrinterConfig, Timing
from bridge._job import SpooledJob
from bridge._signal import Signal
from devices import (
    CoverOpen,
    DeviceError,
    DeviceOffline,
    DeviceTimeout,
    Doc,
    PaperOut,
    PrinterStatus,
)

__all__ = ["PrinterPort", "PrinterState", "error_status", "printer_status"]


class PrinterPort(Protocol):
    """What the dispatcher needs of a printer (``devices.Printer`` is one; tests may fake it)."""

    async def print(self, doc: Doc) -> None: ...

    async def kick_drawer(self, pin: Literal[2, 5] = 2) -> None: ...

    async def status(self) -> PrinterStatus: ...


def error_status(exc: DeviceError) -> str:
    """The ``device.status`` word for a failed attempt."""
    if isinstance(exc, PaperOut):
        return "paper_out"
    if isinstance(exc, CoverOpen):
        return "cover_open"
    if isinstance(exc, (DeviceOffline, DeviceTimeout)):
        return "offline"
    return "unknown"      # it answered, but nothing we understood


def printer_status(status: PrinterStatus) -> tuple[str, str]:
    """The ``device.status`` word (and a detail) for what a status query heard.

    A printer that took the connection but answers no DLE EOT (some do not) is reachable,
    which is what staff need to know: ``online``, with a detail saying it is silent.
    """
    if status.paper_out:
        return "paper_out", ""
    if status.cover_open:
        return "cover_open", ""
    if status.online is False:
        return "offline", "the printer reports itself offline"
    if status.paper_low:
        return "paper_low", ""
    return "online", "" if status.known else "reachable; it does not answer status queries"


@dataclass
class PrinterState:
    """A printer's queue (its routed jobs, in arrival order) and its health."""

    config: PrinterConfig
    port: PrinterPort
    timing: Timing
    jobs: list[SpooledJob] = field(default_factory=list)
    wake: Signal = field(default_factory=Signal)
    down_since: float | None = None     # first failure of the current outage
    retry_at: float = 0.0
    next_poll: float = 0.0
    _backoff: float = 0.0

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, now: float) -> None:
        """An attempt failed: wait longer each time, from ``retry_min`` up to ``retry_max``."""
        if self.down_since is None:
            self.down_since, self._backoff = now, self.timing.retry_min
        else:
            self._backoff = min(self._backoff * 2, self.timing.retry_max)
        self.retry_at = now + self._backoff

    def recovered(self) -> None:
        self.down_since, self._backoff, self.retry_at = None, 0.0, 0.0

    def adoptable(self, now: float) -> bool:
        """Down long enough that its backup should take its jobs."""
        return self.down_since is not None and now - self.down_since >= self.timing.failover_after

    def replace(self, job: SpooledJob) -> None:
        """Keep a job's place in line with its new state (e.g. now to be printed as a COPY)."""
        self.jobs = [job if j.job_id == job.job_id else j for j in self.jobs]

    def remove(self, job_id: str) -> None:
        self.jobs = [j for j in self.jobs if j.job_id != job_id]
