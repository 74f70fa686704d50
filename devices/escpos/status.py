"""Real-time status (DLE EOT n): the request bytes and what the one-byte answers mean.

Epson's DLE EOT is answered even while the printer is offline, which is what makes it useful:
it tells *why* a printer will not print. Each answer byte has bits 1 and 4 set and bits 0 and
7 clear; any other byte is not a status answer (a garbled line, an echo, a printer that
speaks something else) and is refused rather than guessed at.

Each query answers part of the picture, so a ``PrinterStatus`` holds ``None`` for whatever
nobody has told us; ``merge`` combines the answers to several queries.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Literal

from ..errors import DeviceProtocolError

__all__ = ["OFFLINE_CAUSE", "PAPER", "PRINTER", "PrinterStatus", "parse_status", "status_request"]

PRINTER: Literal[1] = 1  # online/offline, drawer connector pin 3
OFFLINE_CAUSE: Literal[2] = 2  # cover open, stopped by paper end
PAPER: Literal[4] = 4  # roll paper near-end and end sensors
_QUERIES = (PRINTER, OFFLINE_CAUSE, PAPER)
_FIXED_MASK, _FIXED_BITS = 0b1001_0011, 0b0001_0010


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer has told us; ``None`` means it has not said (status unknown).

    ``drawer_open`` reads the drawer connector's pin 3 as HIGH = open, the usual wiring;
    a drawer wired the other way reports the inverse.
    """

    online: bool | None = None
    paper_out: bool | None = None
    paper_low: bool | None = None
    cover_open: bool | None = None
    drawer_open: bool | None = None

    def merge(self, other: PrinterStatus) -> PrinterStatus:
        """This status with every field ``other`` knows taken from ``other``."""
        known = {f.name: getattr(other, f.name) for f in fields(other)}
        return replace(self, **{k: v for k, v in known.items() if v is not None})

    @property
    def known(self) -> bool:
        """Whether the printer told us anything at all."""
        return any(getattr(self, f.name) is not None for f in fields(self))

    @property
    def summary(self) -> str:
        """One word in CONTRACT.md's ``device.status`` vocabulary, or ``"unknown"``.

        The most actionable condition wins: a person can fix paper or a cover, while
        "offline" alone says nothing about what to do.
        """
        if self.paper_out:
            return "paper_out"
        if self.cover_open:
            return "cover_open"
        if self.online is False:
            return "offline"
        if self.drawer_open:
            return "drawer_open"
        return "online" if self.online else "unknown"


def status_request(n: int) -> bytes:
    """The DLE EOT n bytes asking for status ``n`` (1 printer, 2 offline cause, 4 paper)."""
    if n not in _QUERIES:
        raise ValueError(f"status query must be one of {_QUERIES}, not {n!r}")
    return bytes((0x10, 0x04, n))


def parse_status(n: int, reply: bytes) -> PrinterStatus:
    """Read the answer to DLE EOT ``n``.

    Raises:
        DeviceProtocolError: ``reply`` is not exactly one status byte (missing, partial,
            garbled or extra bytes), so nothing in it can be trusted.
        ValueError: ``n`` is not a query we send.
    """
    if n not in _QUERIES:
        raise ValueError(f"status query must be one of {_QUERIES}, not {n!r}")
    if len(reply) != 1 or reply[0] & _FIXED_MASK != _FIXED_BITS:
        raise DeviceProtocolError(f"not an answer to DLE EOT {n}: {reply!r}")
    bits = reply[0]
    if n == PRINTER:
        return PrinterStatus(online=not bits & 0x08, drawer_open=bool(bits & 0x04))
    if n == OFFLINE_CAUSE:
        return PrinterStatus(cover_open=bool(bits & 0x04), paper_out=bool(bits & 0x20))
    return PrinterStatus(paper_low=bits & 0x0C == 0x0C, paper_out=bits & 0x60 == 0x60)
