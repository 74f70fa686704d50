"""X and Z reports: a till's takings, read by a manager and filed with the day's cash.

An X report is a look during the day; a Z report closes the till, and its number is what the
books cite, so it leads the title. Money sits in right-aligned columns so figures can be read
down the page. Every figure is the server's (the bridge adds nothing up); a drawer line with
no value (not counted yet on an X, hidden by a blind close) is left off, not printed blank.

The document is fynlo/tills/reports.py's ``build`` plus ``venue: {name, currency}``: ``{report:
"z"|"x", venue, z_number, till_id, drawer, opened_at, closed_at, tickets, gross_sales,
discounts, service_charge, net_sales, vat: [{rate, net, tax, gross}], voids: {count, amount},
payments: {method: {count, amount, surcharge}}, tips: {method: amount}, refunds: {count,
amount}, cash_movements: {kind: {count, amount}}, float, expected, counted, variance}``; a
blind close leaves out ``expected`` and ``variance``.
"""

from __future__ import annotations

from typing import Any

from bridge._bill import Money, venue_money
from bridge._paper import Blocks, clock_time
from bridge._receipts import method_name
from devices import Row, Rule, Text

__all__ = ["report"]

_GAP = "  "     # between the VAT table's money columns
_MOVEMENTS = {"sale": "Cash sales", "refund": "Cash refunds", "no_sale": "No sale"}


def report(doc: dict[str, Any], chars: int) -> Blocks:
    cash = venue_money(doc["venue"])
    blocks = _head(doc)
    voids, refunds = doc["voids"], doc["refunds"]
    blocks += [Rule(), Text("SALES", bold=True), Row("Tickets", str(doc["tickets"])),
               Row("Gross sales", cash(doc["gross_sales"])), Row("Discounts", cash(doc["discounts"])),
               Row("Service charge", cash(doc["service_charge"])), Row("Net sales", cash(doc["net_sales"]), bold=True),
               Row(f"Voids ({voids['count']})", cash(voids["amount"]))]
    blocks += [Rule(), Text("VAT", bold=True), *_vat(doc["vat"], cash, chars)]
    blocks += [Rule(), Text("PAYMENTS", bold=True)]
    for method, paid in doc["payments"].items():
        blocks.append(Row(f"{method_name(method)} ({paid['count']})", cash(paid["amount"])))
        if paid.get("surcharge"):
            blocks.append(Row("  Card fee" if method == "card" else "  Surcharge", cash(paid["surcharge"])))
    blocks.append(Row(f"Refunds ({refunds['count']})", cash(refunds["amount"])))
    tips = {method: amount for method, amount in doc["tips"].items() if amount}
    if tips:
        blocks += [Rule(), Text("TIPS", bold=True)]
        blocks += [Row(method_name(method), cash(amount)) for method, amount in tips.items()]
    return blocks + _drawer(doc, cash)


def _head(doc: dict[str, Any]) -> Blocks:
    kind = doc["report"]
    if kind not in ("x", "z"):
        raise ValueError(f"a report is 'x' or 'z', not {kind!r}")
    title = f"{kind.upper()} REPORT"
    if kind == "z" and doc.get("z_number") is not None:
        title += f" No. {doc['z_number']}"
    blocks: Blocks = [Text(str(doc["venue"]["name"]), bold=True, align="center"),
                      Text(title, bold=True, double=True, align="center"),
                      Row(f"Till {str(doc['till_id'])[:8]}", f"drawer {doc['drawer']}") if doc.get("drawer")
                      else Text(f"Till {str(doc['till_id'])[:8]}"),
                      Row("Opened", clock_time(doc["opened_at"], with_date=True))]
    if doc.get("closed_at"):
        blocks.append(Row("Closed", clock_time(doc["closed_at"], with_date=True)))
    return blocks


def _vat(bands: list[dict[str, Any]], cash: Money, chars: int) -> Blocks:
    """One row per rate with net, VAT and gross in columns; a rate to a paragraph where the
    columns do not fit the paper."""
    head = ("Rate", "Net", "VAT", "Gross")
    rows = [(f"{b['rate']}%", cash(b["net"]), cash(b["tax"]), cash(b["gross"])) for b in bands]
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(4)]
    if widths[0] + 1 + sum(widths[1:]) + 2 * len(_GAP) <= chars:
        return [Row(row[0], _GAP.join(cell.rjust(width) for cell, width in zip(row[1:], widths[1:])))
                for row in (head, *rows)]
    blocks: Blocks = []
    for rate, net, tax, gross in rows:
        blocks += [Text(f"{rate} VAT"), Row("  Net", net), Row("  VAT", tax), Row("  Gross", gross)]
    return blocks


def _drawer(doc: dict[str, Any], cash: Money) -> Blocks:
    blocks: Blocks = [Rule(), Text("CASH", bold=True), Row("Float", cash(doc["float"]))]
    for kind, move in doc["cash_movements"].items():
        label = _MOVEMENTS.get(kind, kind.replace("_", " ").capitalize())
        blocks.append(Row(f"{label} ({move['count']})", cash(move["amount"])))
    for key in ("expected", "counted"):
        if doc.get(key) is not None:
            blocks.append(Row(key.capitalize(), cash(doc[key])))
    variance = doc.get("variance")
    if variance is not None:
        blocks.append(Row("Variance", ("+" if variance > 0 else "") + cash(variance), bold=True))
    return blocks
