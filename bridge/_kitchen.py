"""The kitchen (and bar) ticket: read at arm's length over a hot pass.

So: the order number and the table in large type; one line per item, quantity first; what
changes the dish (modifiers, notes) indented under it; allergens and VOID shouted. The
document is the server's ticket view plus ``table`` and ``order_kind`` (fynlo/orders/jobs.py).
"""

from __future__ import annotations

from typing import Any

from bridge._paper import Blocks, clock_time
from devices import Row, Rule, Text

__all__ = ["kitchen_ticket"]

_KINDS = {"takeaway": "TAKEAWAY", "delivery": "DELIVERY"}


def kitchen_ticket(doc: dict[str, Any], chars: int) -> Blocks:
    void = doc.get("kind") == "void"
    blocks: Blocks = []
    if void:
        blocks.append(Text("*** VOID ***", bold=True, double=True, align="center"))
    blocks.append(Text(f"ORDER {doc['order_number']}", bold=True, double=True, align="center"))
    blocks.append(Text(_where(doc), bold=True, double=True, align="center"))
    blocks.append(Row(str(doc["station"]).upper(), f"course {doc['course']}", bold=True))
    blocks.append(Rule())
    for line in doc["lines"]:
        blocks.extend(_line(line, void))
    blocks.append(Rule())
    sent = clock_time(doc.get("fired_at") or doc.get("sent_at"))
    if sent:
        blocks.append(Row("sent", sent))
    return blocks


def _where(doc: dict[str, Any]) -> str:
    kind = doc.get("order_kind") or "dine_in"
    if kind in _KINDS:
        return _KINDS[kind] + (f" {doc['table']}" if doc.get("table") else "")
    return f"TABLE {doc['table']}" if doc.get("table") else "DINE IN"


def _line(line: dict[str, Any], void: bool) -> Blocks:
    quantity, name = int(line["quantity"]), str(line["name"])
    blocks: Blocks = [Text(f"{'VOID ' if void else ''}{quantity} x {name}", bold=True)]
    blocks.extend(Text(f"   {modifier}") for modifier in line.get("modifiers") or [])
    if line.get("share"):
        blocks.append(Text(f"   share {line['share']}"))
    if line.get("seat") is not None:
        blocks.append(Text(f"   seat {line['seat']}"))
    if line.get("note"):
        blocks.append(Text(f"   NOTE: {line['note']}", bold=True))
    allergens = line.get("allergens") or []
    if allergens:
        blocks.append(Text(f"   !! ALLERGENS: {', '.join(a.upper() for a in allergens)}", bold=True))
    return blocks
