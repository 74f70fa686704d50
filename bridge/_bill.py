"""The bill (and, once payments exist, the receipt): what the guest checks and keeps.

The document is ``{venue: {name, address, tax_id, currency}, order: <order view>, table}``
(fynlo/orders/jobs.py), optionally with ``payments``. Every figure is the server's: the bridge
never adds anything up, so paper and screen cannot disagree. Payments are laid out as they
come (``method``, ``amount`` and, where present, ``tip``, ``fee``, ``tendered``, ``change``),
so receipts only need the server to add them to the document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge._paper import Blocks, clock_time, money
from devices import QR, Row, Rule, Text

__all__ = ["bill"]

Money = Callable[[int], str]
_METHODS = {"cash": "Cash", "card": "Card", "qr": "Bank transfer", "open_banking": "Bank transfer"}
_KINDS = {"takeaway": "Takeaway", "delivery": "Delivery", "dine_in": "Dine in"}


def bill(doc: dict[str, Any], chars: int, *, title: str = "BILL") -> Blocks:
    venue, order = doc["venue"], doc["order"]
    currency = str(venue.get("currency") or "GBP")

    def cash(minor: int) -> str:
        return money(minor, currency)

    blocks: Blocks = [Text(str(venue["name"]), bold=True, double=True, align="center")]
    if venue.get("address"):
        blocks.append(Text(str(venue["address"]), align="center"))
    if venue.get("tax_id"):
        blocks.append(Text(f"VAT no. {venue['tax_id']}", align="center"))
    blocks += [Rule(), Text(title, bold=True, align="center")]
    where = f"Table {doc['table']}" if doc.get("table") else _KINDS.get(order.get("kind"), "")
    blocks.append(Row(f"Order {order['number']}", where, bold=True))
    blocks.append(Row(clock_time(order.get("opened_at"), with_date=True), f"covers {order.get('covers', 1)}"))
    blocks.append(Rule())
    totals = order["totals"]
    by_line = {t["line_id"]: t for t in totals["lines"]}
    for line in order["lines"]:
        if line["line_id"] in by_line:      # void lines are out of the totals, and off the bill
            blocks.extend(_line(line, by_line[line["line_id"]], cash))
    blocks.append(Rule())
    blocks.extend(_summary(order, totals, cash, narrow=chars < 40))
    blocks.extend(_payments(doc.get("payments") or [], order, cash))
    blocks += [Rule(), QR(str(order["order_id"])), Text("Prices include VAT. Thank you!", align="center")]
    return blocks


def _line(line: dict[str, Any], total: dict[str, Any], cash: Money) -> Blocks:
    blocks: Blocks = [Row(f"{line['quantity']} x {line['name']}", cash(int(line["gross"])))]
    for modifier in line.get("modifiers") or []:
        delta = int(modifier.get("price_delta") or 0)
        blocks.append(Row(f"  {modifier['name']}", f"+{cash(delta)}") if delta else Text(f"  {modifier['name']}"))
    if line.get("share"):
        blocks.append(Text(f"  share {line['share']['index'] + 1} of {line['share']['parts']}"))
    if line.get("note"):
        blocks.append(Text(f"  {line['note']}"))
    if total.get("line_discount"):
        reason = (line.get("discount") or {}).get("reason") or ""
        blocks.append(Row(f"  discount {reason}".rstrip(), cash(-int(total["line_discount"]))))
    return blocks


def _summary(order: dict[str, Any], totals: dict[str, Any], cash: Money, *, narrow: bool) -> Blocks:
    blocks: Blocks = [Row("Subtotal", cash(totals["subtotal"]))]
    order_discount = sum(int(t.get("order_discount") or 0) for t in totals["lines"])
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


def _payments(payments: list[dict[str, Any]], order: dict[str, Any], cash: Money) -> Blocks:
    blocks: Blocks = [Rule()] if payments or order.get("paid") else []
    for payment in payments:
        method = str(payment.get("method") or "payment")
        blocks.append(Row(_METHODS.get(method, method.replace("_", " ").capitalize()), cash(int(payment["amount"]))))
        for key, label in (("tip", "  tip"), ("fee", "  fee"), ("tendered", "  tendered"), ("change", "  change")):
            if payment.get(key):
                blocks.append(Row(label, cash(int(payment[key]))))
    if order.get("paid"):
        blocks.append(Row("Paid", cash(int(order["paid"]))))
        blocks.append(Row("Balance due", cash(int(order.get("due") or 0)), bold=True))
    return blocks
