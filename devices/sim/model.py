"""A simulated ESC/POS printer with no wire attached: bytes in, status answers out.

The network, serial and USB simulators all wrap this one model, so a receipt decodes the same
whichever way it arrived. The switches are plain attributes a test (or the demo) flips:

* ``paper_out``, ``cover_open``: the printer is offline for printing. It answers DLE EOT
  accordingly and discards everything else it receives, as a real printer does.
* ``paper_low``, ``drawer_open``: reported in status, printing goes on.
* ``garbled``: status queries get bytes that are not a status answer.

A job is the text up to a cut. A drawer kick on an empty page is a job of its own
(``[DRAWER pin=2]``), since opening the drawer prints nothing and needs no cut; inside a
receipt it is a marker line among the others. Trailing blank lines before a cut (the feed
up to the cutter) are dropped from the job text.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .decoder import DrawerPulse, EscposDecoder, Line, PaperCut, StatusQuery

__all__ = ["CUT_LINE", "PrinterModel"]

CUT_LINE = "--- cut ---"  # ends each job in the output file (CONTRACT.md, Printing and devices)
_GARBLED = b"\xa5\x5a"


class PrinterModel:
    """The state of a simulated printer: its switches, its decoder and the jobs it printed.

    ``output_path``: each completed job's text is appended there, followed by a line
    ``--- cut ---``. ``on_job`` is called with each job's text (the demo logs a line).
    """

    def __init__(self, *, output_path: str | os.PathLike[str] | None = None,
                 on_job: Callable[[str], None] | None = None) -> None:
        self.paper_out = self.paper_low = self.cover_open = self.drawer_open = False
        self.garbled = False
        self.jobs: list[str] = []
        self.job_lines: list[list[Line]] = []
        self.drawer_kicks: list[int] = []
        self.output_path = None if output_path is None else Path(output_path)
        self.on_job = on_job
        self._decoder = EscposDecoder()
        self._page: list[Line] = []
        if self.output_path is not None:
            self.output_path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def ready(self) -> bool:
        """Whether it would print now (paper in, cover closed)."""
        return not (self.paper_out or self.cover_open)

    @property
    def pending(self) -> list[Line]:
        """Lines printed since the last cut: a job still in progress."""
        return list(self._page)

    def receive(self, data: bytes) -> bytes:
        """Take bytes from the host; return what the printer sends back (status answers)."""
        reply = bytearray()
        for event in self._decoder.feed(data):
            if isinstance(event, StatusQuery):
                reply += self._answer(event.n)
            elif not self.ready:
                self._page.clear()  # nothing reaches paper while the printer is offline
            elif isinstance(event, Line):
                self._page.append(event)
            elif isinstance(event, DrawerPulse):
                self._kick(event.pin)
            elif isinstance(event, PaperCut):
                self._finish(self._page)
        return bytes(reply)

    def power_cycle(self) -> None:
        """Lose whatever was half received or half printed, as switching off does."""
        self._decoder = EscposDecoder()
        self._page.clear()

    def _answer(self, n: int) -> bytes:
        if self.garbled:
            return _GARBLED
        bits = 0x12
        if n == 1:
            bits |= (0x04 if self.drawer_open else 0) | (0 if self.ready else 0x08)
        elif n == 2:
            bits |= (0x04 if self.cover_open else 0) | (0x20 if self.paper_out else 0)
        elif n == 4:
            bits |= (0x0C if self.paper_low else 0) | (0x60 if self.paper_out else 0)
        return bytes((bits,))

    def _kick(self, pin: int) -> None:
        self.drawer_kicks.append(pin)
        marker = Line(f"[DRAWER pin={pin}]")
        if self._page:
            self._page.append(marker)
        else:
            self._finish([marker])

    def _finish(self, lines: list[Line]) -> None:
        lines = list(lines)
        while lines and not lines[-1].text:
            lines.pop()
        self._page.clear()
        text = "\n".join(line.text for line in lines)
        self.jobs.append(text)
        self.job_lines.append(lines)
        if self.output_path is not None:
            with self.output_path.open("a", encoding="utf-8") as out:
                out.write(f"{text}\n{CUT_LINE}\n")
        if self.on_job is not None:
            self.on_job(text)
