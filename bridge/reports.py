"""What the bridge has to tell the server, gathered from the tasks that learn it.

Printers, drawers and scanners are watched by their own tasks; the link may be down when they
learn something. They note it here and move on; the courier sends it when it can. Job
outcomes are not kept here: the spool is their record (``reported``), so only a wake-up is.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass

from bridge._signal import Signal

__all__ = ["DeviceReport", "Reports", "Scan"]

log = logging.getLogger("fynlo.bridge.reports")

MAX_SCANS = 100          # scans waiting for the link; older ones are dropped first
SCAN_STALE_S = 60.0      # a scan nobody saw for a minute is no use to the till any more


@dataclass(frozen=True, slots=True)
class DeviceReport:
    device: str
    kind: str            # printer | drawer | scanner
    status: str          # online | offline | paper_out | paper_low | cover_open | drawer_open | …
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Scan:
    device: str
    barcode: str
    terminal_id: str | None
    at: float


class Reports:
    """Device states and scans waiting to be sent; ``wake`` tells the courier to look."""

    def __init__(self) -> None:
        self.wake = Signal()
        self._devices: dict[str, DeviceReport] = {}
        self._sent: dict[str, str] = {}              # device → the status the server has
        self._scans: deque[Scan] = deque(maxlen=MAX_SCANS)

    def job_changed(self) -> None:
        """A job's state moved in the spool: there may be an outcome to report."""
        self.wake.set()

    def device(self, report: DeviceReport) -> None:
        """Note a device's state; the server hears of it only when it changes."""
        before = self._devices.get(report.device)
        self._devices[report.device] = report
        if before is None or before.status != report.status:
            log.info("%s %s is %s%s", report.kind, report.device, report.status,
                     f" ({report.detail})" if report.detail else "")
            self.wake.set()

    def status_of(self, device: str) -> str | None:
        found = self._devices.get(device)
        return None if found is None else found.status

    def unsent_devices(self) -> list[DeviceReport]:
        return [r for r in self._devices.values() if self._sent.get(r.device) != r.status]

    def device_sent(self, report: DeviceReport) -> None:
        self._sent[report.device] = report.status

    def resend_devices(self) -> None:
        """After a reconnect, say every state again (the server ignores repeats)."""
        self._sent.clear()
        self.wake.set()

    def scan(self, device: str, barcode: str, terminal_id: str | None) -> None:
        self._scans.append(Scan(device, barcode, terminal_id, time.monotonic()))
        self.wake.set()

    def next_scan(self) -> Scan | None:
        """The oldest scan still worth sending (stale ones are dropped, with a log line)."""
        while self._scans:
            scan = self._scans.popleft()
            if time.monotonic() - scan.at <= SCAN_STALE_S:
                return scan
            log.warning("dropped a scan of %s on %s: the server was unreachable for a minute", scan.barcode,
                        scan.device)
        return None

    def scan_unsent(self, scan: Scan) -> None:
        """Put a scan back at the front: the link dropped while it was on its way."""
        self._scans.appendleft(scan)
