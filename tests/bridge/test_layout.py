"""Kitchen tickets and bills on 58 and 80 mm paper, decoded back to text by the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from bridge._job import JobState, SpooledJob
from bridge._paper import money
from bridge.errors import LayoutError
from bridge.layout import render
from devices import encode
from devices.sim import PrinterModel

TICKET = {
    "ticket_id": "t1", "order_id": "o1", "order_number": 42, "table_id": "x", "station": "kitchen", "course": 2,
    "kind": "order", "status": "sent", "table": "12", "order_kind": "dine_in",
    "sent_at": "2026-11-22T19:02:11+00:00", "fired_at": None,
    "lines": [{"line_id": "l1", "quantity": 2, "name": "8oz sirloin steak", "modifiers": ["Medium rare", "Peppercorn"],
               "seat": 1, "note": "no salt", "allergens": ["milk"], "course": 2, "share": None}],
}


def line(line_id: str, name: str, gross: int, **extra: Any) -> dict[str, Any]:
    return {"line_id": line_id, "quantity": 1, "name": name, "gross": gross, "modifiers": [], "note": "",
            "discount": None, "share": None, "state": "sent", **extra}


BILL = {
    "venue": {"name": "The Fynlo Arms", "address": "1 Demo Street", "tax_id": "GB123456789", "currency": "GBP"},
    "table": "12",
    "order": {
        "order_id": "5f0c0000-0000-0000-0000-000000000001", "number": 42, "kind": "dine_in", "covers": 2,
        "opened_at": "2026-11-22T19:00:00+00:00", "paid": 0, "due": 3580,
        "lines": [line("a", "Fish & chips", 1650, modifiers=[{"name": "Mushy peas", "price_delta": 100}]),
                  line("b", "Pint of lager", 620, discount={"kind": "amount", "value": 100, "reason": "happy hour"}),
                  line("c", "Chips", 450, state="void")],
        "discount": None, "service_charge": {"rate": "12.50", "mandatory": False}, "gratuity": None,
        "totals": {"lines": [{"line_id": "a", "gross": 1650, "line_discount": 0, "order_discount": 0, "net": 1650,
                              "vat_rate": "20.00", "vat": 275},
                             {"line_id": "b", "gross": 620, "line_discount": 100, "order_discount": 0, "net": 520,
                              "vat_rate": "20.00", "vat": 87}],
                   "subtotal": 2270, "discounts": 100, "after_discounts": 2170, "service_charge": 271,
                   "service_charge_vat": 0, "gratuity": 0, "total": 2441,
                   "vat": [{"rate": "20.00", "gross": 2170, "net": 1808, "vat": 362}], "vat_total": 362}},
}


def job(kind: str, document: dict[str, Any]) -> SpooledJob:
    return SpooledJob(1, "j1", kind, "kitchen", None, False, document, "", JobState.RECEIVED, False, None, 0, "", None)


def printed(kind: str, document: dict[str, Any], chars: int = 48, **options: Any) -> str:
    """What the paper says: the layout encoded to ESC/POS and decoded by the printer simulator."""
    model = PrinterModel()
    model.receive(encode(render(job(kind, document), chars, copy=options.get("copy", False),
                                backup_for=options.get("backup_for")), chars))
    assert len(model.jobs) == 1          # one job, ending in a cut
    return model.jobs[0]


@pytest.mark.parametrize("chars", [32, 48])
def test_a_kitchen_ticket(chars: int) -> None:
    text = printed("kitchen_ticket", TICKET, chars)
    lines = text.splitlines()
    assert lines[0] == "ORDER 42" and lines[1] == "TABLE 12" and lines[2].startswith("KITCHEN")
    assert lines[2].endswith("course 2") and len(lines[2]) == chars
    assert "2 x 8oz sirloin steak" in text and "   Medium rare" in text and "   Peppercorn" in text
    assert "   seat 1" in text and "   NOTE: no salt" in text and "!! ALLERGENS: MILK" in text
    assert "VOID" not in text and "COPY" not in text and lines[-1].startswith("sent")
    assert max(len(x) for x in lines) <= chars


def test_a_void_ticket_says_void_in_large_type_and_a_takeaway_says_so() -> None:
    text = printed("kitchen_ticket", {**TICKET, "kind": "void", "order_kind": "takeaway", "table": None})
    assert text.splitlines()[:3] == ["*** VOID ***", "ORDER 42", "TAKEAWAY"]
    assert "VOID 2 x 8oz sirloin steak" in text


def test_a_copy_and_a_backup_printer_are_marked() -> None:
    text = printed("kitchen_ticket", TICKET, copy=True, backup_for="kitchen")
    assert text.splitlines()[:3] == ["COPY", "(backup printer for kitchen)", "ORDER 42"]
    assert text.splitlines()[-1] == "-- COPY --"


@pytest.mark.parametrize("chars", [32, 48])
def test_a_bill(chars: int) -> None:
    text = printed("bill", BILL, chars)
    assert text.splitlines()[:5] == ["The Fynlo Arms", "1 Demo Street", "VAT no. GB123456789", "-" * chars, "BILL"]
    assert "Order 42" in text and "Table 12" in text and "covers 2" in text
    assert "1 x Fish & chips" in text and "£16.50" in text and "Mushy peas" in text and "+£1.00" in text
    assert "discount happy hour" in text and "-£1.00" in text and "Chips" not in text.replace("Fish & chips", "")
    assert "Subtotal" in text and "£22.70" in text and "£2.71" in text and "TOTAL £24.41" in text
    assert "VAT 20.00%" in text and "£3.62" in text and "[QR 5f0c0000-0000-0000-0000-000000000001]" in text
    assert max(len(x) for x in text.splitlines() if not x.startswith("[QR")) <= chars


def test_money_in_the_venues_currency() -> None:
    assert money(1250, "GBP") == "£12.50" and money(-300, "EUR") == "-€3.00" and money(5, "USD") == "$0.05"
    assert money(123456, "GBP") == "£1,234.56" and money(1500, "JPY") == "JPY 1,500"
    assert money(1000, "CHF") == "CHF 10.00"
    with pytest.raises(TypeError):
        money(12.5, "GBP")  # type: ignore[arg-type]


def test_a_document_without_what_its_layout_needs_fails_clearly() -> None:
    with pytest.raises(LayoutError, match="malformed: KeyError: 'order_number'"):
        render(job("kitchen_ticket", {"lines": []}), 48, copy=False)
    with pytest.raises(LayoutError, match="no layout for 'label' jobs"):
        render(job("label", {}), 48, copy=False)
