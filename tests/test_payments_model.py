"""Property tests of the payment rules: statuses only move forward, refunds split exactly,
cash rounding, fees and the order's payment status."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fynlo.orders.model import PaymentStatus
from fynlo.payments.model import (
    ACTIVE, FINAL, FeeRates, Method, Status, fees, may_move, order_payment_status, quote, refund_shares, round_cash,
)

statuses = st.sampled_from(list(Status))
RATES = FeeRates("2.90", 30, "0.20", "1.00", to_customer=False)


@given(st.lists(statuses, min_size=1, max_size=12))
def test_a_payment_never_moves_back_whatever_order_callbacks_arrive_in(updates: list[Status]) -> None:
    status = Status.PENDING
    seen = [status]
    for new in updates:
        if may_move(status, new):
            status = new
            seen.append(status)
    # once final, only an expired request that was paid late may still move (to succeeded)
    for before, after in zip(seen, seen[1:]):
        assert before not in FINAL or (before, after) == (Status.EXPIRED, Status.SUCCEEDED)
        assert not (before is Status.AUTHORISED and after is Status.PENDING)
    assert seen.count(Status.SUCCEEDED) <= 1


def test_the_moves_that_matter() -> None:
    assert may_move(Status.PENDING, Status.AUTHORISED) and may_move(Status.AUTHORISED, Status.SUCCEEDED)
    assert not may_move(Status.SUCCEEDED, Status.FAILED) and not may_move(Status.SUCCEEDED, Status.CANCELED)
    assert not may_move(Status.AUTHORISED, Status.PENDING) and not may_move(Status.CANCELED, Status.SUCCEEDED)
    assert may_move(Status.EXPIRED, Status.SUCCEEDED)     # the bank says it was paid: believe it, review it
    assert ACTIVE.isdisjoint(FINAL)


@given(st.lists(st.integers(0, 50_000), min_size=1, max_size=8), st.data())
def test_refund_shares_sum_exactly_and_never_exceed_a_payment(room: list[int], data: st.DataObject) -> None:
    total = sum(room)
    if total == 0:
        return
    amount = data.draw(st.integers(1, total))
    shares = refund_shares(amount, room)
    assert sum(shares) == amount
    assert all(0 <= s <= r for s, r in zip(shares, room))


@given(st.integers(0, 10_000_000), st.sampled_from([0, 1, 2, 5, 10, 50]))
def test_cash_rounding_is_nearest_step(amount: int, step: int) -> None:
    rounded = round_cash(amount, step)
    if step <= 1:
        assert rounded == amount
    else:
        assert rounded % step == 0 and abs(rounded - amount) <= step // 2


@given(st.integers(1, 10_000_000), st.sampled_from(list(Method)), st.booleans(), st.booleans())
def test_fees_are_never_negative_and_a_declined_surcharge_costs_the_customer_nothing(
        amount: int, method: Method, to_customer: bool, declined: bool) -> None:
    rates = FeeRates("2.90", 30, "0.20", "1.00", to_customer)
    f = fees(method, amount, rates, decline_surcharge=declined)
    assert f.processing >= 0 and f.platform >= 0 and f.surcharge >= 0
    assert f.venue_pays >= 0
    if declined or not to_customer or method is Method.CASH:
        assert f.surcharge == 0
    if method is Method.CASH:
        assert f.processing == f.platform == 0


def test_quote_uses_the_venues_rates() -> None:
    by_method = {q["method"]: q for q in quote(10_000, RATES)}
    assert by_method["card"]["venue_pays"] == {"processing": 320, "platform": 100, "total": 420}
    assert by_method["open_banking"]["venue_pays"] == {"processing": 20, "platform": 100, "total": 120}
    assert by_method["cash"]["venue_pays"]["total"] == 0


@given(st.integers(1, 100_000), st.integers(0, 100_000), st.integers(0, 100_000))
def test_order_payment_status(total: int, paid: int, refunded: int) -> None:
    refunded = min(refunded, paid)
    status = order_payment_status(total, paid, refunded)
    if refunded:
        assert status in (PaymentStatus.PART_REFUNDED, PaymentStatus.REFUNDED)
        assert (status is PaymentStatus.REFUNDED) == (refunded >= paid)
    elif paid == 0:
        assert status is PaymentStatus.UNPAID
    else:
        assert (status is PaymentStatus.PAID) == (paid >= total)
