"""Payments as rules (pure; no I/O): statuses, what an order still owes, fees, refund shares.

A payment is one attempt to take money for an order by one method. Its status only moves
forward: `pending` → `authorised` (a card held for a tab) → `succeeded`, or it ends `failed`,
`canceled` or `expired`. Provider callbacks arrive twice and out of order, so a callback that
would move a payment backwards (a `payment_failed` after `succeeded`) is ignored rather than
applied. "Paid" means the provider said `succeeded`; `authorised` is money held, not taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Sequence

from fynlo.money import allocate, percent_of
from fynlo.orders.model import PaymentStatus


class Method(StrEnum):
    CASH = "cash"
    CARD = "card"
    OPEN_BANKING = "open_banking"


class Status(StrEnum):
    PENDING = "pending"          # asked the provider; the customer has not paid yet
    AUTHORISED = "authorised"    # a card hold (manual capture): not paid until captured
    SUCCEEDED = "succeeded"      # the money is ours
    FAILED = "failed"            # declined
    CANCELED = "canceled"
    EXPIRED = "expired"          # an open-banking request nobody paid in time


ACTIVE = frozenset({Status.PENDING, Status.AUTHORISED})
FINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED, Status.EXPIRED})
_RANK = {Status.PENDING: 0, Status.AUTHORISED: 1}


def may_move(current: Status, new: Status) -> bool:
    """Whether a payment at `current` may become `new`: forward only, final states stay.

    One exception: a bank that reports a request paid after we expired it is believed (the
    money has left the customer's account); the payment is then flagged for review.
    """
    if current == new:
        return False
    if current is Status.EXPIRED and new is Status.SUCCEEDED:
        return True
    if current in FINAL:
        return False
    return new in FINAL or _RANK[new] > _RANK[current]


def order_payment_status(total: int, paid: int, refunded: int) -> PaymentStatus:
    """unpaid → part_paid → paid, then part_refunded / refunded (CONTRACT.md)."""
    if refunded > 0:
        return PaymentStatus.REFUNDED if refunded >= paid else PaymentStatus.PART_REFUNDED
    if paid <= 0:
        return PaymentStatus.UNPAID
    return PaymentStatus.PAID if paid >= total else PaymentStatus.PART_PAID


def round_cash(amount: int, step: int) -> int:
    """`amount` to the nearest `step` minor units, halves up (no step: unchanged)."""
    if step <= 1:
        return amount
    return (amount + step // 2) // step * step


@dataclass(frozen=True, slots=True)
class FeeRates:
    """A venue's fee settings, read from VenueSettings."""

    card_percent: str
    card_fixed: int
    open_banking_percent: str
    platform_percent: str
    to_customer: bool        # the venue passes processing fees on as a surcharge, where the law allows


@dataclass(frozen=True, slots=True)
class Fees:
    processing: int          # the provider's charge
    platform: int            # ours (0 for a self-hosted venue)
    surcharge: int           # what the customer pays on top, when the venue passes fees on

    @property
    def venue_pays(self) -> int:
        return self.processing + self.platform - self.surcharge


def processing_fee(method: Method, amount: int, rates: FeeRates) -> int:
    if method is Method.CARD:
        return percent_of(amount, rates.card_percent) + rates.card_fixed
    if method is Method.OPEN_BANKING:
        return percent_of(amount, rates.open_banking_percent)
    return 0


def fees(method: Method, amount: int, rates: FeeRates, *, decline_surcharge: bool = False) -> Fees:
    """The fees on taking `amount` by `method`. The platform fee applies to money that moves
    through a provider (card, open banking), never to cash in the drawer."""
    processing = processing_fee(method, amount, rates)
    platform = 0 if method is Method.CASH else percent_of(amount, rates.platform_percent)
    surcharge = processing if rates.to_customer and not decline_surcharge else 0
    return Fees(processing, platform, surcharge)


def quote(amount: int, rates: FeeRates) -> list[dict[str, object]]:
    """For each method: what the customer pays and what the venue pays (payment.quote)."""
    out: list[dict[str, object]] = []
    for method in Method:
        f = fees(method, amount, rates)
        out.append({
            "method": str(method), "amount": amount, "surcharge": f.surcharge,
            "customer_pays": amount + f.surcharge, "surcharge_optional": f.surcharge > 0,
            "venue_pays": {"processing": f.processing, "platform": f.platform, "total": f.venue_pays},
        })
    return out


def refund_shares(amount: int, refundable: Sequence[int]) -> list[int]:
    """`amount` across payments in proportion to what each can still give back; sums exactly
    and never asks a payment for more than it has (the caller checks amount ≤ Σ refundable)."""
    shares = allocate(amount, list(refundable))
    overflow = 0
    for i, (share, room) in enumerate(zip(shares, refundable)):
        if share > room:
            overflow += share - room
            shares[i] = room
    for i, room in enumerate(refundable):
        if overflow == 0:
            break
        extra = min(room - shares[i], overflow)
        shares[i] += extra
        overflow -= extra
    return shares
