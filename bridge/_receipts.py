"""The receipt (the bill once paid, with how it was paid) and the refund receipt.

Both are numbered and dated: they are the guest's proof of payment or of money back, so each
says which receipt it is, and a refund says which receipt it undoes. A card is only ever
shown by brand and last four digits, whatever the document holds.

Documents (the server builds them; every figure is its own, the bridge adds nothing up):

- receipt: ``{venue, order: <order view>, table, receipt_number, issued_at, staff, payments:
  [{method, amount, tip, surcharge, tendered, change, card: {brand, last4}, reference}]}``.
  ``amount`` is what went against the order; ``tip`` and ``surcharge`` came on top of it.
- refund_receipt: ``{venue, order_number, receipt_number, issued_at, original_receipt_number,
  staff, approved_by, refund: {method, amount, reason}}``, ``amount`` positive.
"""

from __future__ import annotations

from typing import Any

from bridge._bill import Money, heading, order_part, tail, venue_money
from bridge._paper import Blocks, clock_time
from devices import Row, Rule, Text

__all__ = ["method_name", "receipt", "refund_receipt"]

_METHODS = {"cash": "Cash", "card": "Card", "qr": "Bank transfer", "open_banking": "Bank transfer"}


def receipt(doc: dict[str, Any], chars: int) -> Blocks:
    venue, order = doc["venue"], doc["order"]
    cash = venue_money(venue)
    served: Blocks = [Text(f"Served by {doc['staff']}")] if doc.get("staff") else []
    blocks = [*heading(venue, "RECEIPT"), _numbered(doc), *order_part(doc, chars, cash, served), Rule()]
    for payment in doc["payments"]:
        blocks.extend(_payment(payment, cash))
    blocks.append(Row("Paid", cash(order["paid"])))
    if order["due"] == 0:
        blocks.append(Text("PAID", bold=True, double=True, align="center"))
    else:
        blocks.append(Row("Balance due", cash(order["due"]), bold=True))
    return blocks + tail(order)


def refund_receipt(doc: dict[str, Any], chars: int) -> Blocks:
    refund, cash = doc["refund"], venue_money(doc["venue"])
    amount = refund["amount"]
    if isinstance(amount, int) and amount <= 0:
        raise ValueError(f"a refund amount must be positive minor units, not {amount}")
    blocks = [*heading(doc["venue"], "REFUND"), _numbered(doc)]
    order = f"Order {doc['order_number']}"
    original = doc.get("original_receipt_number")
    blocks.append(Row(order, f"original receipt {original}") if original is not None else Text(order))
    blocks += [Rule(), Row(f"{method_name(refund['method'])} refund", cash(-amount))]
    if refund.get("reason"):
        blocks.append(Text(f"Reason: {refund['reason']}"))
    blocks += [Rule(), Text(f"TOTAL {cash(-amount)}", bold=True, double=True, align="right")]
    if doc.get("staff"):
        blocks.append(Text(f"Refunded by {doc['staff']}"))
    if doc.get("approved_by"):
        blocks.append(Text(f"Approved by {doc['approved_by']}"))
    return blocks


def method_name(method: str) -> str:
    """``open_banking`` → ``Bank transfer``: how a payment method reads on paper."""
    return _METHODS.get(method, method.replace("_", " ").capitalize())


def _numbered(doc: dict[str, Any]) -> Row:
    return Row(f"Receipt No. {doc['receipt_number']}", clock_time(doc["issued_at"], with_date=True))


def _payment(payment: dict[str, Any], cash: Money) -> Blocks:
    method = payment["method"]
    label = method_name(method)
    card = payment.get("card")
    if card:
        label += f" {_card(card)}"
    blocks: Blocks = [Row(label, cash(payment["amount"]))]
    if payment.get("tip"):
        blocks.append(Row("  Tip", cash(payment["tip"])))
    if payment.get("surcharge"):
        blocks.append(Row("  Card fee" if method == "card" else "  Surcharge", cash(payment["surcharge"])))
    if payment.get("tendered") is not None:
        blocks.append(Row("  Tendered", cash(payment["tendered"])))
    if payment.get("change") is not None:
        blocks.append(Row("  Change", cash(payment["change"])))
    if payment.get("reference"):
        blocks.append(Text(f"  Ref {payment['reference']}"))
    return blocks


def _card(card: dict[str, Any]) -> str:
    """``Visa ****4242``: never more of the number than its last four digits."""
    digits = "".join(ch for ch in str(card.get("last4") or "") if ch.isdigit())[-4:]
    brand = str(card.get("brand") or "").replace("_", " ").title()
    return " ".join(part for part in (brand, f"****{digits}" if digits else "") if part)
