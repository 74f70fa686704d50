"""Receipts with their payments, refund receipts and X/Z reports on 58 and 80 mm paper."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from bridge.errors import LayoutError
from bridge.layout import render
from tests.bridge.test_layout import BILL, job, printed

ISSUED = "2026-11-22T20:15:00+00:00"

CARD = {"payment_id": "p1", "method": "card", "amount": 1441, "tip": 200, "surcharge": 25, "tendered": None,
        "change": None, "card": {"brand": "visa", "last4": "4242"}, "reference": "pi_123"}
CASH = {"payment_id": "p2", "method": "cash", "amount": 1000, "tip": 0, "surcharge": 0, "tendered": 2000,
        "change": 1000, "card": None, "reference": None}
RECEIPT: dict[str, Any] = {**BILL, "order": {**BILL["order"], "paid": 2441, "due": 0},  # type: ignore[dict-item]
                           "receipt_number": 17, "issued_at": ISSUED, "staff": "Sam", "payments": [CARD, CASH]}

REFUND: dict[str, Any] = {
    "venue": BILL["venue"], "order_number": 42, "receipt_number": 18, "issued_at": ISSUED,
    "refund": {"refund_id": "r1", "payment_id": "p1", "method": "card", "amount": 450, "reason": "cold chips"},
    "original_receipt_number": 17, "staff": "Sam", "approved_by": "Alex",
}

Z_REPORT: dict[str, Any] = {   # fynlo/tills/reports.py build(), plus the venue
    "report": "z", "venue": {"name": "The Fynlo Arms", "currency": "GBP"}, "z_number": 3, "till_id": "T1",
    "drawer": "main", "terminal_id": "term-1", "opened_at": "2026-11-22T09:00:00+00:00", "opened_by": "s1",
    "closed_at": "2026-11-22T23:10:00+00:00", "closed_by": "s2",
    "tickets": 42, "gross_sales": 123456, "discounts": 1200, "net_sales": 122256, "service_charge": 4500,
    "gratuity": 0, "sales_total": 126756,
    "vat": [{"rate": "0.00", "net": 1880, "tax": 0, "gross": 1880},
            {"rate": "20.00", "net": 100000, "tax": 20000, "gross": 120000}],
    "voids": {"count": 3, "amount": 1350},
    "payments": {"cash": {"count": 12, "amount": 45600, "surcharge": 0},
                 "card": {"count": 30, "amount": 77856, "surcharge": 310},
                 "open_banking": {"count": 0, "amount": 0, "surcharge": 0}},
    "tips": {"cash": 0, "card": 2000, "open_banking": 0},
    "refunds": {"count": 1, "amount": 450, "by_method": {"cash": {"count": 0, "amount": 0},
                                                          "card": {"count": 1, "amount": 450},
                                                          "open_banking": {"count": 0, "amount": 0}}},
    "cash_movements": {"sale": {"count": 12, "amount": 45600}, "refund": {"count": 0, "amount": 0},
                       "paid_in": {"count": 0, "amount": 0}, "paid_out": {"count": 1, "amount": -500},
                       "drop": {"count": 0, "amount": 0}, "no_sale": {"count": 2, "amount": 0}},
    "float": 10000, "expected": 55100, "counted": 54500, "variance": -600,
}


def row(left: str, right: str, chars: int) -> str:
    """A line with ``right`` flush against the paper's right edge."""
    return left + right.rjust(chars - len(left))


def local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone().strftime("%d/%m/%Y %H:%M")


def after(lines: list[str], first: str, count: int) -> list[str]:
    start = lines.index(first)
    return lines[start:start + count]


def fits(text: str, chars: int) -> bool:
    return max(len(x) for x in text.splitlines() if not x.startswith("[QR")) <= chars


@pytest.mark.parametrize("chars", [32, 48])
def test_a_receipt_is_numbered_dated_and_says_how_it_was_paid(chars: int) -> None:
    text = printed("receipt", RECEIPT, chars)
    lines = text.splitlines()
    assert lines[4:8] == ["RECEIPT", row("Receipt No. 17", local(ISSUED), chars), row("Order 42", "Table 12", chars),
                          "Served by Sam"]
    assert "1 x Fish & chips" in text and "TOTAL £24.41" in lines
    assert after(lines, row("Card Visa ****4242", "£14.41", chars), 10) == [
        row("Card Visa ****4242", "£14.41", chars), row("  Tip", "£2.00", chars), row("  Card fee", "£0.25", chars),
        "  Ref pi_123",
        row("Cash", "£10.00", chars), row("  Tendered", "£20.00", chars), row("  Change", "£10.00", chars),
        row("Paid", "£24.41", chars), "PAID", "-" * chars]
    assert "Balance due" not in text and fits(text, chars)


def test_a_part_paid_receipt_shows_the_balance_instead_of_paid() -> None:
    part = {**RECEIPT, "order": {**RECEIPT["order"], "paid": 1441, "due": 1000}, "payments": [CARD], "staff": None}
    lines = printed("receipt", part, 32).splitlines()
    assert after(lines, row("Paid", "£14.41", 32), 2) == [row("Paid", "£14.41", 32), row("Balance due", "£10.00", 32)]
    assert "PAID" not in lines and not any(x.startswith("Served by") for x in lines)
    assert not any(x.lstrip().startswith(("Tendered", "Change")) for x in lines)   # card, not cash


def test_a_card_is_never_printed_beyond_its_last_four_digits() -> None:
    leaky = {**CARD, "card": {"brand": "american_express", "last4": "3782 822463 10005"}}
    text = printed("receipt", {**RECEIPT, "payments": [leaky, CASH]}, 48)
    assert row("Card American Express ****0005", "£14.41", 48) in text.splitlines()
    assert "3782" not in text and "822463" not in text and "10005" not in text


def test_a_surcharge_on_a_bank_payment_is_not_called_a_card_fee() -> None:
    bank = {**CASH, "method": "open_banking", "surcharge": 10, "tendered": None, "change": None, "reference": "FYN-17"}
    lines = printed("receipt", {**RECEIPT, "payments": [CARD, bank]}, 32).splitlines()
    assert after(lines, row("Bank transfer", "£10.00", 32), 3) == [
        row("Bank transfer", "£10.00", 32), row("  Surcharge", "£0.10", 32), "  Ref FYN-17"]


def test_a_bill_for_a_part_paid_order_shows_the_balance_and_no_payments() -> None:
    order = {**BILL["order"], "paid": 1441, "due": 1000}  # type: ignore[dict-item]
    part = {**BILL, "order": order, "payments": [CARD]}
    lines = printed("bill", part, 48).splitlines()
    assert lines[4] == "BILL" and not any("Receipt No." in x or "Card" in x for x in lines)
    assert after(lines, row("Paid", "£14.41", 48), 2) == [row("Paid", "£14.41", 48), row("Balance due", "£10.00", 48)]


@pytest.mark.parametrize("chars", [32, 48])
def test_a_refund_receipt(chars: int) -> None:
    text = printed("refund_receipt", REFUND, chars)
    assert text.splitlines()[3:] == [
        "-" * chars, "REFUND", row("Receipt No. 18", local(ISSUED), chars),
        row("Order 42", "original receipt 17", chars), "-" * chars,
        row("Card refund", "-£4.50", chars), "Reason: cold chips", "-" * chars,
        "TOTAL -£4.50", "Refunded by Sam", "Approved by Alex"]
    assert fits(text, chars)


def test_a_refund_without_an_original_receipt_or_reason() -> None:
    bare = {**REFUND, "original_receipt_number": None, "staff": None, "approved_by": None,
            "refund": {**REFUND["refund"], "method": "cash", "reason": None}}
    assert printed("refund_receipt", bare, 32).splitlines()[6:] == [
        "Order 42", "-" * 32, row("Cash refund", "-£4.50", 32), "-" * 32, "TOTAL -£4.50"]


@pytest.mark.parametrize("chars", [32, 48])
def test_a_z_report(chars: int) -> None:
    text = printed("report", Z_REPORT, chars)
    lines = text.splitlines()
    assert lines[:5] == ["The Fynlo Arms", "Z REPORT No. 3", row("Till T1", "drawer main", chars),
                         row("Opened", local(Z_REPORT["opened_at"]), chars),
                         row("Closed", local(Z_REPORT["closed_at"]), chars)]
    assert after(lines, "SALES", 8) == [
        "SALES", row("Tickets", "42", chars), row("Gross sales", "£1,234.56", chars),
        row("Discounts", "£12.00", chars), row("Service charge", "£45.00", chars),
        row("Net sales", "£1,222.56", chars), row("Voids (3)", "£13.50", chars), "-" * chars]
    assert after(lines, "PAYMENTS", 7) == [
        "PAYMENTS", row("Cash (12)", "£456.00", chars), row("Card (30)", "£778.56", chars),
        row("  Card fee", "£3.10", chars), row("Bank transfer (0)", "£0.00", chars),
        row("Refunds (1)", "£4.50", chars), "-" * chars]
    assert after(lines, "TIPS", 3) == ["TIPS", row("Card", "£20.00", chars), "-" * chars]
    assert lines[lines.index("CASH"):] == [
        "CASH", row("Float", "£100.00", chars), row("Cash sales (12)", "£456.00", chars),
        row("Cash refunds (0)", "£0.00", chars), row("Paid in (0)", "£0.00", chars),
        row("Paid out (1)", "-£5.00", chars), row("Drop (0)", "£0.00", chars), row("No sale (2)", "£0.00", chars),
        row("Expected", "£551.00", chars), row("Counted", "£545.00", chars), row("Variance", "-£6.00", chars)]
    assert fits(text, chars)


def test_vat_is_a_table_on_wide_paper_and_a_paragraph_per_rate_on_narrow() -> None:
    wide = printed("report", Z_REPORT, 48).splitlines()
    assert after(wide, "VAT", 5) == [
        "VAT",
        "Rate                     Net      VAT      Gross",
        "0.00%                 £18.80    £0.00     £18.80",
        "20.00%             £1,000.00  £200.00  £1,200.00", "-" * 48]
    narrow = printed("report", Z_REPORT, 32).splitlines()
    assert after(narrow, "VAT", 10) == [
        "VAT", "0.00% VAT", row("  Net", "£18.80", 32), row("  VAT", "£0.00", 32), row("  Gross", "£18.80", 32),
        "20.00% VAT", row("  Net", "£1,000.00", 32), row("  VAT", "£200.00", 32),
        row("  Gross", "£1,200.00", 32), "-" * 32]


def test_an_x_report_leaves_out_what_is_not_known_yet() -> None:
    x = {**Z_REPORT, "report": "x", "z_number": None, "closed_at": None, "closed_by": None, "drawer": None,
         "tips": {"cash": 0, "card": 0, "open_banking": 0}, "counted": None, "variance": None}
    lines = printed("report", x, 32).splitlines()
    assert lines[1:4] == ["X REPORT", "Till T1", row("Opened", local(Z_REPORT["opened_at"]), 32)]
    assert lines[4] == "-" * 32 and "TIPS" not in lines
    assert lines[-2:] == [row("No sale (2)", "£0.00", 32), row("Expected", "£551.00", 32)]


def test_a_blind_close_shows_the_count_but_not_what_was_expected() -> None:
    blind = {k: v for k, v in Z_REPORT.items() if k not in ("expected", "variance")}
    assert printed("report", blind, 48).splitlines()[-2:] == [row("No sale (2)", "£0.00", 48),
                                                              row("Counted", "£545.00", 48)]


def test_a_cash_surplus_is_signed() -> None:
    lines = printed("report", {**Z_REPORT, "counted": 55300, "variance": 200}, 48).splitlines()
    assert lines[-1] == row("Variance", "+£2.00", 48)


@pytest.mark.parametrize(("kind", "document", "why"), [
    ("receipt", {k: v for k, v in RECEIPT.items() if k != "receipt_number"}, "KeyError: 'receipt_number'"),
    ("receipt", {**RECEIPT, "payments": [{**CARD, "amount": 14.41}]}, "TypeError: an amount must be whole"),
    ("refund_receipt", {**REFUND, "refund": {**REFUND["refund"], "amount": 0}}, "ValueError: a refund amount"),
    ("refund_receipt", {**REFUND, "refund": None}, "TypeError"),
    ("report", {**Z_REPORT, "report": "y"}, "ValueError: a report is 'x' or 'z'"),
    ("report", {k: v for k, v in Z_REPORT.items() if k != "venue"}, "KeyError: 'venue'"),
    ("report", {**Z_REPORT, "vat": [{"rate": "20.00", "net": 100000, "gross": 120000}]}, "KeyError: 'tax'"),
])
def test_a_malformed_document_is_a_layout_error(kind: str, document: dict[str, Any], why: str) -> None:
    with pytest.raises(LayoutError, match=f"the {kind} document is malformed: {why}"):
        render(job(kind, document), 48, copy=False)
