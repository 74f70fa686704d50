"""The bridge config as frozen values (bridge/config.py reads and checks the file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bridge.transport_url import TransportSpec

__all__ = ["DEFAULT_SPOOL", "KNOWN_STATIONS", "WIDTH_CHARS", "BridgeConfig", "DrawerConfig", "PrinterConfig",
           "ScannerConfig", "Timing"]

DEFAULT_SPOOL = "var/bridge-spool.sqlite3"
KNOWN_STATIONS = ("kitchen", "bar", "receipt")   # where the server sends tickets and bills
WIDTH_CHARS = {58: 32, 80: 48}                   # paper width in mm → characters per line (font A)


@dataclass(frozen=True, slots=True)
class Timing:
    """Every delay the bridge waits, in seconds; tests shorten them, venues rarely need to."""

    reconnect_min: float = 0.5      # first wait after the link drops (doubling, with jitter)
    reconnect_max: float = 30.0     # the longest wait, and the pace after a refused token
    retry_min: float = 1.0          # first wait before printing again on a failed printer
    retry_max: float = 15.0
    failover_after: float = 10.0    # a printer down this long hands its jobs to its backup
    print_timeout: float = 10.0     # one job's bytes must be through within this
    stop_grace: float = 5.0         # on Ctrl-C/SIGTERM, a job being sent may finish within this


@dataclass(frozen=True, slots=True)
class PrinterConfig:
    name: str
    stations: tuple[str, ...]
    transport: TransportSpec
    width: Literal[58, 80] = 80
    backup: str | None = None
    status_poll: float = 5.0

    @property
    def chars(self) -> int:
        """Characters per line at this paper width."""
        return WIDTH_CHARS[self.width]


@dataclass(frozen=True, slots=True)
class DrawerConfig:
    name: str
    printer: str
    pin: Literal[2, 5] = 2


@dataclass(frozen=True, slots=True)
class ScannerConfig:
    name: str
    transport: TransportSpec
    terminal_id: str | None = None


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    server: str | None = None
    token: str | None = None
    spool: Path = Path(DEFAULT_SPOOL)
    printers: tuple[PrinterConfig, ...] = ()
    drawers: tuple[DrawerConfig, ...] = ()
    scanners: tuple[ScannerConfig, ...] = ()
    timing: Timing = field(default_factory=Timing)
    warnings: tuple[str, ...] = ()

    def printer(self, name: str) -> PrinterConfig:
        return next(p for p in self.printers if p.name == name)

    def serving(self, station: str) -> PrinterConfig | None:
        """The printer whose `stations` list `station` (validation makes it at most one)."""
        return next((p for p in self.printers if station in p.stations), None)
