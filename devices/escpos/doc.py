"""The document model receipts and tickets are laid out with.

A document is a flat list of blocks. It knows paper, not restaurants: the bridge decides
what a kitchen ticket says, these blocks decide how it lands on 58 or 80 mm of paper. The
blocks are frozen values so a spooled job can be rebuilt and compared byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = ["QR", "Align", "Block", "Cut", "Doc", "DrawerKick", "Feed", "Row", "Rule", "Text"]

Align: TypeAlias = Literal["left", "center", "right"]
_ALIGNS = ("left", "center", "right")


@dataclass(frozen=True, slots=True)
class Text:
    """A paragraph, wrapped at the paper width (half of it when ``double``).

    ``\\n`` in ``text`` starts a new line.
    """

    text: str
    bold: bool = False
    double: bool = False
    align: Align = "left"

    def __post_init__(self) -> None:
        if self.align not in _ALIGNS:
            raise ValueError(f"align must be one of {_ALIGNS}, not {self.align!r}")


@dataclass(frozen=True, slots=True)
class Row:
    """Two columns on one line: ``right`` is kept whole, ``left`` is truncated to fit."""

    left: str
    right: str
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """A dashed line across the paper."""


@dataclass(frozen=True, slots=True)
class QR:
    """A QR code printed by the printer itself (GS ( k), so it stays sharp and small on the wire."""

    data: str

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError("a QR code needs data")


@dataclass(frozen=True, slots=True)
class Feed:
    """``n`` blank lines (0–255, the range of ESC d)."""

    n: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.n <= 255:
            raise ValueError(f"feed must be 0..255 lines, not {self.n}")


@dataclass(frozen=True, slots=True)
class Cut:
    """Feed to the cutter and cut: the end of a job on paper."""


@dataclass(frozen=True, slots=True)
class DrawerKick:
    """Pulse the cash drawer connector (ESC p) on pin 2 or pin 5."""

    pin: Literal[2, 5] = 2

    def __post_init__(self) -> None:
        if self.pin not in (2, 5):
            raise ValueError(f"drawer pin must be 2 or 5, not {self.pin!r}")


Block: TypeAlias = Text | Row | Rule | QR | Feed | Cut | DrawerKick
Doc: TypeAlias = Sequence[Block]
