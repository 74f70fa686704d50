"""Bad money input, every way money comes in or goes out: a clear error code, and nothing
written anywhere (payments, refunds, cash ledgers, tills, events, print jobs) nor asked of a
provider."""

from __future__ import annotations

from typing import Any

import pytest

from fynlo.db import Database
from tests.payment_kit import Cashier, Payments, money_footprint
from tests.support import VenueKit, new_id

CASES = [
    "cash tendered short", "cash zero", "cash negative", "cash over due", "cash on a cancelled order",
    "cash with no open till", "card zero", "card negative", "card over due", "card on a cancelled order",
    "qr zero", "qr negative", "qr over due", "qr on a cancelled order", "refund more than collected",
    "refund without approval", "refund with a staff PIN", "refund zero", "close a closed till",
    "close an unknown till", "cash movement on a closed till",
]


@pytest.mark.parametrize("case", CASES)
async def test_bad_money_input_changes_nothing(pay: Payments, db: Database, venue: VenueKit, case: str) -> None:
    c = Cashier(pay.server, venue)
    manager = Cashier(pay.server, venue, "manager")
    closed_till = await c.open_till(1000, drawer="bar")
    await c.ok("till.close", till_id=closed_till, counted=1000)
    if case != "cash with no open till":
        await c.open_till(5000)
    order_id, total = await c.order_for("Scotch egg", "Chips")
    if case.startswith("refund"):
        await c.ok("payment.cash", order_id=order_id, payment_id=new_id(), amount=total, tendered=total)
    cancelled_id, cancelled_total = await c.order_for("Chips", table="2")
    await manager.ok("order.cancel", order_id=cancelled_id, reason="walked out")
    before = await money_footprint(db, pay, venue.venue_id)

    def paying(command: str, amount: int, on: str = order_id, **args: Any) -> tuple[Cashier, str, dict[str, Any]]:
        return c, command, {"order_id": on, "payment_id": new_id(), "amount": amount, **args}

    def refund(amount: int, approval: dict[str, str] | None) -> tuple[Cashier, str, dict[str, Any]]:
        args = {"order_id": order_id, "refund_id": new_id(), "amount": amount, "reason": "cold"}
        return c, "payment.refund", {**args, **({"approval": approval} if approval else {})}

    manager_pin, staff_pin = venue.people["manager"].pin, venue.people["staff"].pin
    attempts: dict[str, tuple[tuple[Cashier, str, dict[str, Any]], str, str | None]] = {
        "cash tendered short": (paying("payment.cash", total, tendered=total - 1), "validation_error", None),
        "cash zero": (paying("payment.cash", 0, tendered=1000), "validation_error", None),
        "cash negative": (paying("payment.cash", -100, tendered=1000), "validation_error", None),
        "cash over due": (paying("payment.cash", total + 1, tendered=5000), "validation_error", "amount_exceeds_due"),
        "cash on a cancelled order": (paying("payment.cash", cancelled_total, on=cancelled_id,
                                             tendered=cancelled_total), "conflict", "order_not_open"),
        "cash with no open till": (paying("payment.cash", total, tendered=total), "conflict", "no_open_till"),
        "card zero": (paying("payment.card_start", 0), "validation_error", None),
        "card negative": (paying("payment.card_start", -100), "validation_error", None),
        "card over due": (paying("payment.card_start", total + 1), "validation_error", "amount_exceeds_due"),
        "card on a cancelled order": (paying("payment.card_start", cancelled_total, on=cancelled_id),
                                      "conflict", "order_not_open"),
        "qr zero": (paying("payment.qr_start", 0), "validation_error", None),
        "qr negative": (paying("payment.qr_start", -100), "validation_error", None),
        "qr over due": (paying("payment.qr_start", total + 1), "validation_error", "amount_exceeds_due"),
        "qr on a cancelled order": (paying("payment.qr_start", cancelled_total, on=cancelled_id),
                                    "conflict", "order_not_open"),
        "refund more than collected": (refund(total + 1, {"pin": manager_pin}), "validation_error", None),
        "refund without approval": (refund(100, None), "approval_required", None),
        "refund with a staff PIN": (refund(100, {"pin": staff_pin}), "forbidden", None),
        "refund zero": (refund(0, {"pin": manager_pin}), "validation_error", None),
        "close a closed till": ((c, "till.close", {"till_id": closed_till, "counted": 1000}), "conflict",
                                "till_not_open"),
        "close an unknown till": ((c, "till.close", {"till_id": new_id(), "counted": 1000}), "not_found", None),
        "cash movement on a closed till": ((c, "till.cash_movement", {"till_id": closed_till, "movement_id": new_id(),
                                                                      "amount": 100, "reason": "float top-up"}),
                                           "conflict", "till_not_open"),
    }
    (who, name, args), code, reason = attempts[case]
    reply = await who(name, **args)
    assert reply["ok"] is False and reply["error"]["code"] == code, reply
    if reason is not None:
        assert reply["error"]["details"]["reason"] == reason, reply
    assert await money_footprint(db, pay, venue.venue_id) == before
