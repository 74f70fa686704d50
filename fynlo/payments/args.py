"""The args of the payment commands (validated before any actor sees them)."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import Field, model_validator

from fynlo.commands.spec import Args
from fynlo.orders.args import Approval, OrderArgs

MAX_AMOUNT = 10_000_000           # £100,000 in pence: a typo guard, not a business rule
Amount = Field(ge=1, le=MAX_AMOUNT)


class PaymentArgs(OrderArgs):
    payment_id: UUID


class CashArgs(PaymentArgs):
    amount: int = Amount
    tendered: int = Field(ge=0, le=MAX_AMOUNT)
    tip: int = Field(default=0, ge=0, le=MAX_AMOUNT)
    till_id: UUID | None = None

    @model_validator(mode="after")
    def _covers(self) -> "CashArgs":
        if self.tendered < self.amount + self.tip:
            raise ValueError("tendered is less than the amount (and tip)")
        return self


class CardStartArgs(PaymentArgs):
    amount: int = Amount
    tip: int = Field(default=0, ge=0, le=MAX_AMOUNT)
    present: bool = True                                   # a reader or Tap to Pay; false: in-app
    capture: Literal["automatic", "manual"] = "automatic"  # manual: a pre-authorised tab
    decline_surcharge: bool = False                        # the customer declined a card fee


class CaptureArgs(PaymentArgs):
    amount: int = Amount                                   # everything taken, tip included
    tip: int = Field(default=0, ge=0, le=MAX_AMOUNT)

    @model_validator(mode="after")
    def _tip_inside(self) -> "CaptureArgs":
        if self.tip >= self.amount:
            raise ValueError("the tip must be less than the amount captured")
        return self


class QrStartArgs(PaymentArgs):
    amount: int = Amount
    decline_surcharge: bool = False


class RefundArgs(OrderArgs):
    payment_id: UUID | None = None      # none: spread across the order's payments
    refund_id: UUID
    amount: int = Amount
    reason: str = Field(min_length=1, max_length=200)
    till_id: UUID | None = None         # where cash comes from (default: this terminal's till)
    approval: Approval | None = None


class QuoteArgs(Args):
    amount: int = Amount


class SplitEvenArgs(OrderArgs):
    ways: int = Field(ge=2, le=50)


class ListArgs(OrderArgs):
    pass


class ReconcileArgs(Args):
    day: date                           # the venue's business day to compare with Stripe


class FeeLedgerArgs(Args):
    date_from: date
    date_to: date

    @model_validator(mode="after")
    def _ordered(self) -> "FeeLedgerArgs":
        if self.date_to < self.date_from:
            raise ValueError("date_to is before date_from")
        return self
