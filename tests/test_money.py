"""The money rules: rates, half-up rounding (HMRC, not banker's), exact allocation, no floats."""

from __future__ import annotations

import io
import tokenize
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fynlo.errors import ValidationError
from fynlo.money import (
    allocate,
    format_rate,
    parse_rate,
    percent_of,
    round_half_up,
    split_evenly,
    vat_in_gross,
)

ROOT = Path(__file__).resolve().parent.parent
amounts = st.integers(min_value=0, max_value=10**9)
two_dp_rates = st.integers(min_value=0, max_value=10_000).map(lambda bp: f"{bp // 100}.{bp % 100:02d}")
rates = st.sampled_from(["0.00", "5.00", "12.5", "20.00", "20"]) | two_dp_rates


def half_up(value: Fraction) -> int:
    """Reference rounding, independent of the module: nearest, halves away from zero."""
    magnitude = abs(value)
    whole = int(magnitude)
    if magnitude - whole >= Fraction(1, 2):
        whole += 1
    return whole if value >= 0 else -whole


# --- rates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20.00", Decimal("20")), ("12.5", Decimal("12.5")), ("0", Decimal(0)), ("100", Decimal(100)),
     ("20.000", Decimal(20)), (Decimal("5.00"), Decimal(5))],
)
def test_parse_rate_accepts_percentages_with_two_decimals(text: str | Decimal, expected: Decimal) -> None:
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    "bad", ["100.01", "-0.01", "12.345", "abc", "", "NaN", "sNaN", "Infinity", 20, 0.5, None, True]
)
def test_parse_rate_refuses_anything_else(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        parse_rate(bad)  # type: ignore[arg-type]
    assert info.value.details == {"rate": str(bad)}


@pytest.mark.parametrize(("text", "canonical"), [("20", "20.00"), ("12.5", "12.50"), ("0", "0.00"),
                                                 ("-0", "0.00"), ("1E+1", "10.00")])
def test_format_rate_gives_one_spelling_per_rate(text: str, canonical: str) -> None:
    assert format_rate(text) == canonical


# --- rounding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.5", 1), ("1.5", 2), ("2.5", 3), ("2.4999", 2), ("2.51", 3), ("-0.5", -1), ("-2.5", -3),
     ("-2.4", -2), ("7", 7)],
)
def test_round_half_up_rounds_halves_away_from_zero(value: str, expected: int) -> None:
    assert round_half_up(Decimal(value)) == expected


def test_round_half_up_is_not_bankers_rounding() -> None:
    # 2.5 is where they part: half-even goes to the even 2, HMRC's half-up to 3.
    assert Decimal("2.5").to_integral_value(rounding=ROUND_HALF_EVEN) == 2
    assert round_half_up(Decimal("2.5")) == 3


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12))
def test_round_half_up_matches_decimal_round_half_up(value: Decimal) -> None:
    assert round_half_up(value) == int(value.to_integral_value(rounding=ROUND_HALF_UP))


@given(amounts, rates)
def test_percent_of_is_the_exact_product_rounded_half_up(amount: int, rate: str) -> None:
    assert percent_of(amount, rate) == half_up(Fraction(amount) * Fraction(rate) / 100)


def test_percent_of_rounds_a_half_penny_up() -> None:
    # 250 × 5 / 100 = 12.5 → 13 (half-even would say 12).
    assert percent_of(250, "5.00") == 13
    # 1485 × 12.5 / 100 = 185.625 → 186.
    assert percent_of(1485, "12.5") == 186


@given(amounts, rates)
def test_vat_in_gross_is_the_exact_fraction_rounded_half_up(gross: int, rate: str) -> None:
    r = Fraction(rate)
    vat = vat_in_gross(gross, rate)
    assert vat == half_up(gross * r / (100 + r))
    assert 0 <= vat <= gross


def test_vat_in_gross_worked_examples() -> None:
    # 1050 × 5 / 105 = 50 exactly.
    assert vat_in_gross(1050, "5.00") == 50
    # 1250 × 20 / 120 = 208.33… → 208.
    assert vat_in_gross(1250, "20.00") == 208
    # 1203 × 20 / 120 = 200.5 → 201 half-up; half-even would give the even 200.
    assert vat_in_gross(1203, "20.00") == 201
    # 15 × 20 / 120 = 2.5 → 3, not 2.
    assert vat_in_gross(15, "20.00") == 3
    # 1125 × 20 / 120 = 187.5 → 188.
    assert vat_in_gross(1125, "20") == 188
    assert vat_in_gross(999_999, "0.00") == 0


def test_vat_in_gross_refuses_a_bad_rate() -> None:
    with pytest.raises(ValidationError):
        vat_in_gross(100, "120")


# --- allocation ------------------------------------------------------------------------------

weight_lists = st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=30)


@given(st.integers(min_value=-(10**9), max_value=10**9), weight_lists)
def test_allocate_sums_exactly_and_each_part_is_within_one_unit_of_its_share(
    total: int, weights: list[int]
) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    effective = weights if any(weights) else [1] * len(weights)
    for part, weight in zip(parts, effective):
        assert abs(part - Fraction(total * weight, sum(effective))) < 1


@given(amounts, weight_lists)
def test_allocate_gives_nothing_to_a_zero_weight_beside_positive_ones(
    total: int, weights: list[int]
) -> None:
    parts = allocate(total, [*weights, 0, 1])
    assert parts[-2] == 0


def test_allocate_ties_go_to_the_earliest_part() -> None:
    assert allocate(1, [1, 1]) == [1, 0]
    assert allocate(2, [1, 1, 1]) == [1, 1, 0]
    # 100 over 1:1:1 → 33.33 each, remainders equal: the first part takes the penny.
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]


def test_allocate_largest_remainder_wins() -> None:
    # 10 over 1:2:3 → 1.67, 3.33, 5; floors 1, 3, 5 leave 1 unit; 0.67 is the largest remainder.
    assert allocate(10, [1, 2, 3]) == [2, 3, 5]


def test_allocate_splits_evenly_when_every_weight_is_zero() -> None:
    assert allocate(5, [0, 0, 0]) == [2, 2, 1]


def test_allocate_zero_and_negative_totals() -> None:
    assert allocate(0, [3, 1]) == [0, 0]
    assert allocate(-10, [1, 2, 3]) == [-2, -3, -5]


@pytest.mark.parametrize("weights", [[], [1, -1]])
def test_allocate_refuses_empty_or_negative_weights(weights: list[int]) -> None:
    with pytest.raises(ValueError):
        allocate(10, weights)


@given(amounts, st.integers(min_value=1, max_value=50))
def test_split_evenly_sums_to_the_penny_and_earliest_parts_take_the_extra(total: int, n: int) -> None:
    parts = split_evenly(total, n)
    assert sum(parts) == total
    assert parts == sorted(parts, reverse=True)
    assert parts[0] - parts[-1] <= 1


def test_split_evenly_refuses_no_parts() -> None:
    with pytest.raises(ValueError):
        split_evenly(100, 0)


# --- no floats -------------------------------------------------------------------------------


@pytest.mark.parametrize("relative", ["fynlo/money.py", "fynlo/orders/totals.py"])
def test_no_float_in_money_code(relative: str) -> None:
    """Tokens, not text: a rate like "12.5" in a docstring is fine, a 12.5 in code is not."""
    source = (ROOT / relative).read_text()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME:
            assert token.string != "float", f"{relative}:{token.start[0]} uses float"
        if token.type == tokenize.NUMBER:
            literal = token.string.lower()
            is_float = not literal.startswith(("0x", "0o", "0b")) and any(c in literal for c in ".ej")
            assert not is_float, f"{relative}:{token.start[0]} has a float literal {token.string}"
