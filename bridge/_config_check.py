"""Checking a parsed config: every mistake collected with its line, warnings kept apart."""

from __future__ import annotations

import re
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from bridge._config_model import (
    DEFAULT_SPOOL,
    KNOWN_STATIONS,
    WIDTH_CHARS,
    BridgeConfig,
    DrawerConfig,
    PrinterConfig,
    ScannerConfig,
    Timing,
)
from bridge._tomlpos import KeyLines
from bridge.errors import BridgeConfigError
from bridge.transport_url import TransportSpec, parse_transport

__all__ = ["check"]


def check(data: dict[str, Any], lines: KeyLines, source: str) -> BridgeConfig:
    """The config in `data`, or BridgeConfigError listing every mistake (top to bottom)."""
    return _Checker(data, lines, source).config()


_TOP = {"server", "token", "spool", "timing", "printers", "drawers", "scanners"}
_PRINTER = {"name", "stations", "transport", "width", "backup", "status_poll"}
_DRAWER = {"name", "printer", "pin"}
_SCANNER = {"name", "transport", "terminal_id"}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
KeyPath = tuple[str | int, ...]
# Stands in for an unusable address so cross-checks still see the device; a problem has been
# noted for it, so no config holding this is ever returned.
_UNUSABLE = TransportSpec(kind="tcp", url="")


def _line_number(problem: str) -> int:
    """Sort key: problems read top to bottom, as the installer edits the file."""
    found = re.match(r"^.*?:(\d+):", problem)
    return int(found.group(1)) if found else 0


class _Checker:
    """Walks the parsed TOML once, building the config and noting every problem with its line."""

    def __init__(self, data: dict[str, Any], lines: KeyLines, source: str) -> None:
        self.data, self.lines, self.source = data, lines, source
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def say(self, path: KeyPath, message: str, *, warn: bool = False) -> None:
        line = self.lines.line(path)
        where = ".".join(f"[{p + 1}]" if isinstance(p, int) else p for p in path).replace(".[", "[")
        text = f"{self.source}:{line if line else '?'}: {where}: {message}" if where else f"{self.source}: {message}"
        (self.warnings if warn else self.problems).append(text)

    def config(self) -> BridgeConfig:
        self.known(self.data, _TOP, ())
        server, token = self.text((), "server"), self.text((), "token")
        if server is not None and not re.match(r"^(https?|wss?)://[^/\s]+", server):
            self.say(("server",), f"{server!r} is not a server URL (https://pos.example.com)")
        if token is not None and not token.startswith("fyb_"):
            self.say(("token",), "a bridge token starts with fyb_ (POST /api/v1/bridges makes one)")
        timing = self.timing()
        printers = [self.printer(t, i) for i, t in enumerate(self.tables("printers"))]
        drawers = [self.drawer(t, i) for i, t in enumerate(self.tables("drawers"))]
        scanners = [self.scanner(t, i) for i, t in enumerate(self.tables("scanners"))]
        self.cross_check(printers, drawers, scanners)
        if self.problems:
            raise BridgeConfigError(sorted(self.problems, key=_line_number))
        return BridgeConfig(server=server, token=token, spool=Path(self.text((), "spool") or DEFAULT_SPOOL),
                            printers=tuple(p for p in printers if p), drawers=tuple(d for d in drawers if d),
                            scanners=tuple(s for s in scanners if s), timing=timing, warnings=tuple(self.warnings))

    def known(self, table: dict[str, Any], allowed: set[str], path: KeyPath) -> None:
        for key in table:
            if key not in allowed:
                guess = get_close_matches(key, sorted(allowed), n=1)
                expected = ", ".join(sorted(allowed))
                hint = f" (did you mean {guess[0]!r}?)" if guess else f" (expected one of {expected})"
                self.say((*path, key), f"unknown key{hint}")

    def tables(self, key: str) -> list[dict[str, Any]]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
            self.say((key,), f"write each one as a [[{key}]] table")
            return []
        return value

    def text(self, path: KeyPath, key: str, table: dict[str, Any] | None = None, *,
             required: bool = False) -> str | None:
        value = (self.data if table is None else table).get(key)
        if value is None:
            if required:
                self.say(path, f"{key} is missing")
            return None
        if not isinstance(value, str) or not value.strip():
            self.say((*path, key), "must be a non-empty string")
            return None
        return value.strip()

    def number(self, path: KeyPath, table: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            self.say((*path, key), f"must be a number of seconds from {low:g} to {high:g}")
            return default
        return float(value)

    def timing(self) -> Timing:
        table = self.data.get("timing", {})
        if not isinstance(table, dict):
            self.say(("timing",), "must be a [timing] table")
            return Timing()
        self.known(table, set(Timing.__slots__), ("timing",))
        base = Timing()
        values = {k: self.number(("timing",), table, k, getattr(base, k), 0.01, 3600) for k in Timing.__slots__}
        timing = Timing(**values)
        if timing.reconnect_min > timing.reconnect_max or timing.retry_min > timing.retry_max:
            self.say(("timing",), "each *_min must be at most its *_max")
        return timing

    def transport(self, path: KeyPath, table: dict[str, Any]) -> TransportSpec | None:
        url = self.text(path, "transport", table, required=True)
        try:
            return parse_transport(url) if url else None
        except ValueError as exc:
            self.say((*path, "transport"), str(exc))
            return None

    def printer(self, table: dict[str, Any], index: int) -> PrinterConfig | None:
        path: KeyPath = ("printers", index)
        self.known(table, _PRINTER, path)
        name, transport = self.text(path, "name", table, required=True), self.transport(path, table)
        if transport is not None and transport.kind == "usb-hid":
            self.say((*path, "transport"), "usb-hid:// is for scanners (a keyboard); a USB printer is usb://vendor:product")
            transport = None
        stations = table.get("stations", [])
        if not isinstance(stations, list) or not all(isinstance(s, str) and s for s in stations):
            self.say((*path, "stations"), 'must be a list of station names, e.g. ["kitchen"]')
            stations = []
        width = table.get("width", 80)
        if width not in WIDTH_CHARS or isinstance(width, bool):
            self.say((*path, "width"), f"must be 58 or 80 (paper width in mm), not {width!r}")
            width = 80
        backup = self.text(path, "backup", table)
        poll = self.number(path, table, "status_poll", 5.0, 0.05, 3600)
        return PrinterConfig(name, tuple(stations), transport or _UNUSABLE, width, backup, poll) if name else None

    def drawer(self, table: dict[str, Any], index: int) -> DrawerConfig | None:
        path: KeyPath = ("drawers", index)
        self.known(table, _DRAWER, path)
        name, printer = self.text(path, "name", table, required=True), self.text(path, "printer", table, required=True)
        pin = table.get("pin", 2)
        if pin not in (2, 5) or isinstance(pin, bool):
            self.say((*path, "pin"), f"must be 2 or 5 (the drawer connector pin), not {pin!r}")
        return DrawerConfig(name, printer, pin if pin in (2, 5) else 2) if name and printer else None

    def scanner(self, table: dict[str, Any], index: int) -> ScannerConfig | None:
        path: KeyPath = ("scanners", index)
        self.known(table, _SCANNER, path)
        name, transport = self.text(path, "name", table, required=True), self.transport(path, table)
        terminal = self.text(path, "terminal_id", table)
        if terminal is not None and not _UUID.match(terminal):
            self.say((*path, "terminal_id"), "must be the terminal's UUID (POST /api/v1/terminals gives it)")
        return ScannerConfig(name, transport or _UNUSABLE, terminal) if name else None

    def cross_check(self, printers: list[PrinterConfig | None], drawers: list[DrawerConfig | None],
                    scanners: list[ScannerConfig | None]) -> None:
        """Names unique across devices, backups and drawers naming real printers, stations covered."""
        seen: dict[str, str] = {}
        for kind, items in (("printers", printers), ("drawers", drawers), ("scanners", scanners)):
            for index, item in enumerate(items):
                if item is None:
                    continue
                if item.name in seen:
                    self.say((kind, index, "name"), f"{item.name!r} is already the name of one of the "
                             f"{seen[item.name]}")
                seen.setdefault(item.name, kind)
        names = [p.name for p in printers if p]
        listing = ", ".join(names) or "none"
        served: dict[str, str] = {}
        for index, p in enumerate(printers):
            if p is None:
                continue
            if p.backup is not None and (p.backup not in names or p.backup == p.name):
                why = "cannot be itself" if p.backup == p.name else f"is not a printer here (printers: {listing})"
                self.say(("printers", index, "backup"), f"{p.backup!r} {why}")
            for station in p.stations:
                if station in served:
                    self.say(("printers", index, "stations"), f"station {station!r} is already served by "
                             f"{served[station]!r}; a second printer for it is a backup = …")
                served.setdefault(station, p.name)
                if station not in KNOWN_STATIONS:
                    self.say(("printers", index, "stations"), f"station {station!r} is not one the server "
                             f"sends to ({', '.join(KNOWN_STATIONS)})", warn=True)
        for index, d in enumerate(drawers):
            if d is not None and d.printer not in names:
                self.say(("drawers", index, "printer"), f"{d.printer!r} is not a printer here (printers: {listing})")
        for station in KNOWN_STATIONS:
            if station not in served:
                self.say(("printers",), f"no printer serves station {station!r}: its jobs will be reported failed",
                         warn=True)
