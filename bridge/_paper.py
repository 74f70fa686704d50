"""Small formatting rules shared by the layouts: money and times as the venue reads them."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

from devices import QR, Cut, Feed, Row, Rule, Text

__all__ = ["Blocks", "clock_time", "money"]

Blocks: TypeAlias = list[Text | Row | Rule | QR | Feed | Cut]

# Minor-unit exponents where they are not 2, and the symbols printers can show (CP858).
_EXPONENTS = {"JPY": 0, "ISK": 0, "KRW": 0}
_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "CAD": "$", "AUD": "$", "NZD": "$"}


def money(minor: int, currency: str) -> str:
    """``1250, "GBP"`` → ``£12.50``; ``-300`` → ``-£3.00``; a code without a symbol leads:
    ``CHF 12.50``.

    Raises:
        TypeError: ``minor`` is not a whole number of minor units (money is never a float).
    """
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"an amount must be whole minor units, not {minor!r}")
    exponent = _EXPONENTS.get(currency, 2)
    sign, whole = ("-" if minor < 0 else ""), abs(minor)
    number = f"{whole // 10 ** exponent:,}" + (f".{whole % 10 ** exponent:0{exponent}d}" if exponent else "")
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{currency} {number}"


def clock_time(iso: str | None, *, with_date: bool = False) -> str:
    """An ISO 8601 time in the bridge machine's local time (the venue's clock): ``19:02``."""
    if not iso:
        return ""
    at = datetime.fromisoformat(iso).astimezone()
    return at.strftime("%d/%m/%Y %H:%M" if with_date else "%H:%M")
