"""Money rules: integer minor units, percentage rates, half-up rounding, exact allocation.

Why integers: a binary float cannot hold 0.10 exactly, and a till that drifts by a penny fails
its cash-up. Every amount is an ``int`` count of minor units (pence: ``1250`` is £12.50).
Rates are percentage strings with at most two decimals (``"20.00"``, ``"12.5"``), parsed with
``Decimal`` and then held as whole basis points, so every calculation below is integer
arithmetic and exact however large the amount.

Why half-up: HMRC (VAT Guide VATREC12030) rounds a fraction of ½p or more *up*. Python's
``round`` and ``Decimal``'s default context use banker's rounding (half-even), which would
round every other half-penny down. All rounding here goes through ``_divide_half_up``.

Pure: no I/O, nothing of fynlo but ``fynlo.errors``. See docs/money.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from fynlo.errors import ValidationError

__all__ = [
    "allocate",
    "format_rate",
    "parse_rate",
    "percent_of",
    "round_half_up",
    "split_evenly",
    "vat_in_gross",
]

_MAX_RATE = Decimal(100)
_TWO_PLACES = Decimal("0.01")
_BASIS_POINTS_PER_PERCENT = 100
_WHOLE_IN_BASIS_POINTS = 100 * _BASIS_POINTS_PER_PERCENT
_NOT_A_NUMBER = Decimal("NaN")


def parse_rate(rate: str | Decimal) -> Decimal:
    """A percentage rate from 0 to 100 with at most two decimals, as a ``Decimal``.

    Rates travel as strings (CONTRACT.md) so that ``"12.5"`` means exactly 12.5; a float or a
    bare int is refused rather than guessed at. ``"20.000"`` is accepted: its value has two
    decimals.

    Raises:
        ValidationError: not a decimal string or ``Decimal``, outside 0..100, or finer than
            two decimals.
    """
    value = _as_decimal(rate)
    if not value.is_finite() or not 0 <= value <= _MAX_RATE or value != value.quantize(_TWO_PLACES):
        raise ValidationError(
            "a rate is a percentage from 0 to 100 with at most two decimals", rate=str(rate)
        )
    return value


def _as_decimal(rate: object) -> Decimal:
    """The rate as a Decimal, or NaN (which ``parse_rate`` refuses) for anything else."""
    if isinstance(rate, Decimal):
        return rate
    if isinstance(rate, str):
        try:
            return Decimal(rate)
        except InvalidOperation:
            pass
    return _NOT_A_NUMBER


def format_rate(rate: str | Decimal) -> str:
    """The canonical wire form of a rate, two decimals: ``"12.5"`` → ``"12.50"``.

    One spelling per rate, so ``"20"`` and ``"20.00"`` land in the same VAT band.

    Raises:
        ValidationError: as ``parse_rate``.
    """
    points = _basis_points(rate)
    return f"{points // _BASIS_POINTS_PER_PERCENT}.{points % _BASIS_POINTS_PER_PERCENT:02d}"


def _basis_points(rate: str | Decimal) -> int:
    """The rate in hundredths of a percent; exact, because a rate has at most two decimals."""
    return int(parse_rate(rate) * _BASIS_POINTS_PER_PERCENT)


def _divide_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` to the nearest integer, a half away from zero; exact.

    The one rounding rule of this module (VATREC12030). Integer arithmetic, so no decimal
    context or precision can turn a near-half into a half.
    """
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


def round_half_up(value: Decimal) -> int:
    """``value`` rounded to a whole minor unit, halves up (HMRC), never half-even.

    Negative values are symmetric: a half rounds away from zero, so ``-2.5`` → ``-3`` and a
    refund rounds exactly as the sale it reverses.

    Raises:
        ValueError: ``value`` is NaN.  OverflowError: ``value`` is infinite.
    """
    numerator, denominator = value.as_integer_ratio()
    return _divide_half_up(numerator, denominator)


def percent_of(amount: int, rate: str | Decimal) -> int:
    """``amount × rate / 100``, half-up: a percent discount, service charge or gratuity.

    Raises:
        ValidationError: as ``parse_rate``.
    """
    return _divide_half_up(amount * _basis_points(rate), _WHOLE_IN_BASIS_POINTS)


def vat_in_gross(gross: int, rate: str | Decimal) -> int:
    """The VAT contained in a VAT-inclusive amount: ``gross × rate / (100 + rate)``, half-up.

    Menu prices include VAT, so VAT is found inside the price, never added on top: at 20% it is
    1/6 of the gross.

    Raises:
        ValidationError: as ``parse_rate``.
    """
    points = _basis_points(rate)
    return _divide_half_up(gross * points, _WHOLE_IN_BASIS_POINTS + points)


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` in parts proportional to ``weights`` that sum to ``total`` exactly.

    Largest remainder: each part gets the floor of its exact share, then the units left over go
    one each to the parts with the largest remainders, the earliest part winning a tie. So every
    part is within one unit of its exact share and no penny is made or lost. When every weight
    is 0 the total is split evenly (earliest parts get the extra units). A negative total is
    allocated as the mirror image of its positive.

    Raises:
        ValueError: ``weights`` is empty or has a negative weight (a programming error).
    """
    if not weights or any(weight < 0 for weight in weights):
        raise ValueError(f"allocate needs one or more weights, none negative: {list(weights)}")
    if total < 0:
        return [-part for part in allocate(-total, weights)]
    if not any(weights):
        weights = [1] * len(weights)
    weight_sum = sum(weights)
    shares = [divmod(total * weight, weight_sum) for weight in weights]
    parts = [floor for floor, _ in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: (-shares[i][1], i))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` equal parts, the earliest taking the odd units; sums exactly.

    Raises:
        ValueError: ``parts`` < 1.
    """
    if parts < 1:
        raise ValueError(f"split_evenly needs at least one part, not {parts}")
    return allocate(total, [1] * parts)
