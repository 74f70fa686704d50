"""The bill: what the guest checks before paying, and the order part the receipt reuses.

The document is ``{venue: {name, address, tax_id, currency}, order: <order view>, table}``
(fynlo/orders/jobs.py). Every figure is the server's: the bridge never adds anything up, so
paper and screen cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from bridge._paper import Blocks, clock_time, money
from devices import QR, Row, Rule, Text

__all__ = ["Money", "bill", "heading", "order_part", "tail", "venue_money"]

Money = Callable[[int], str]
_KINDS = {"takeaway": "Takeaway", "delivery": "Delivery", "dine_in": "Dine in"}


def bill(doc: dict[str, Any], chars: int) -> Blocks:
    venue, order = doc["venue"], doc["order"]
    cash = venue_money(venue)
    stamp: Blocks = [Row(clock_time(order.get("opened_at"), with_date=True), f"covers {order.get('covers', 1)}")]
    blocks = [*heading(venue, "BILL"), *order_part(doc, chars, cash, stamp)]
    if order.get("paid"):       # a part-paid order: what is left to pay
        blocks += [Rule(), Row("Paid", cash(order["paid"])), Row("Balance due", cash(order["due"]), bold=True)]
    return blocks + tail(order)


def venue_money(venue: dict[str, Any]) -> Money:
    """Amounts as the venue reads them: its currency, GBP when it does not say."""
    return partial(money, currency=str(venue.get("currency") or "GBP"))


def heading(venue: dict[str, Any], title: str) -> Blocks:
    """Who is selling (a VAT receipt must say, with the VAT number), then what this paper is."""
    blocks: Blocks = [Text(str(venue["name"]), bold=True, double=True, align="center")]
    if venue.get("address"):
        blocks.append(Text(str(venue["address"]), align="center"))
    if venue.get("tax_id"):
        blocks.append(Text(f"VAT no. {venue['tax_id']}", align="center"))
    return [*blocks, Rule(), Text(title, bold=True, align="center")]


def order_part(doc: dict[str, Any], chars: int, cash: Money, stamp: Blocks) -> Blocks:
    """The order number and where it is, ``stamp`` (what this copy adds), lines, totals, VAT."""
    order = doc["order"]
    where = f"Table {doc['table']}" if doc.get("table") else _KINDS.get(order.get("kind"), "")
    blocks: Blocks = [Row(f"Order {order['number']}", where, bold=True), *stamp, Rule()]
    totals = order["totals"]
    by_line = {t["line_id"]: t for t in totals["lines"]}
    for line in order["lines"]:
        if line["line_id"] in by_line:      # void lines are out of the totals, and off the bill
            blocks.extend(_line(line, by_line[line["line_id"]], cash))
    blocks.append(Rule())
    return blocks + _summary(order, totals, cash, narrow=chars < 40)


def tail(order: dict[str, Any]) -> Blocks:
    """The order's QR (a till scans it to find the order again) and the VAT statement."""
    return [Rule(), QR(str(order["order_id"])), Text("Prices include VAT. Thank you!", align="center")]


def _line(line: dict[str, Any], total: dict[str, Any], cash: Money) -> Blocks:
    blocks: Blocks = [Row(f"{line['quantity']} x {line['name']}", cash(line["gross"]))]
    for modifier in line.get("modifiers") or []:
        delta = modifier.get("price_delta") or 0
        blocks.append(Row(f"  {modifier['name']}", f"+{cash(delta)}") if delta else Text(f"  {modifier['name']}"))
    if line.get("share"):
        blocks.append(Text(f"  share {line['share']['index'] + 1} of {line['share']['parts']}"))
    if line.get("note"):
        blocks.append(Text(f"  {line['note']}"))
    if total.get("line_discount"):
        reason = (line.get("discount") or {}).get("reason") or ""
        blocks.append(Row(f"  discount {reason}".rstrip(), cash(-total["line_discount"])))
    return blocks


def _summary(order: dict[str, Any], totals: dict[str, Any], cash: Money, *, narrow: bool) -> Blocks:
    blocks: Blocks = [Row("Subtotal", cash(totals["subtotal"]))]
    order_discount = sum(t.get("order_discount") or 0 for t in totals["lines"])
    if order_discount:
        reason = (order.get("discount") or {}).get("reason") or ""
        blocks.append(Row(f"Discount {reason}".rstrip(), cash(-order_discount)))
    if totals.get("service_charge"):
        charge = order.get("service_charge") or {}
        optional = "" if charge.get("mandatory") else (" (opt.)" if narrow else " (optional)")
        blocks.append(Row(f"Service {charge.get('rate', '')}%{optional}", cash(totals["service_charge"])))
    if totals.get("gratuity"):
        blocks.append(Row("Gratuity", cash(totals["gratuity"])))
    blocks.append(Text(f"TOTAL {cash(totals['total'])}", bold=True, double=True, align="right"))
    for band in totals.get("vat") or []:
        label = f"VAT {band['rate']}%" if narrow else f"VAT {band['rate']}% of {cash(band['gross'])}"
        blocks.append(Row(label, cash(band["vat"])))
    return blocks
