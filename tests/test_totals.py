"""Order totals: discounts, then service charge, then VAT; properties first, then worked examples
checked by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fynlo.errors import ValidationError
from fynlo.money import vat_in_gross
from fynlo.orders.totals import (
    Discount,
    Gratuity,
    LineTotal,
    PricedLine,
    ServiceCharge,
    Totals,
    VatBand,
    check_discount,
    compute,
    line_discount,
    split_line_gross,
)

money = st.integers(min_value=0, max_value=10**6)
two_dp_rates = st.integers(min_value=0, max_value=10_000).map(lambda bp: f"{bp // 100}.{bp % 100:02d}")
rates = st.sampled_from(["0.00", "5.00", "12.5", "20.00", "20"]) | two_dp_rates
discounts = st.builds(Discount, st.just("percent"), two_dp_rates) | st.builds(
    Discount, st.just("amount"), money
)
priced_lines = st.lists(
    st.builds(
        PricedLine,
        line_id=st.text(alphabet="abcdefgh", min_size=1, max_size=3),
        gross=st.sampled_from([0, 1, 400, 1250]) | money,  # equal amounts make allocation ties
        vat_rate=rates,
        discount=st.none() | discounts,
    ),
    max_size=12,
    unique_by=lambda line: line.line_id,
)
service_charges = st.none() | st.builds(ServiceCharge, rates, st.booleans())
gratuities = st.none() | st.builds(Gratuity, percent=two_dp_rates) | st.builds(Gratuity, amount=money)


def by_id(totals: Totals) -> Totals:
    """The totals with their lines in line_id order, to compare orders listed differently."""
    return replace(totals, lines=tuple(sorted(totals.lines, key=lambda line: line.line_id)))


# --- properties ------------------------------------------------------------------------------


@given(st.data(), priced_lines, st.none() | discounts, service_charges, gratuities)
def test_totals_do_not_depend_on_line_order(
    data: st.DataObject,
    lines: list[PricedLine],
    order_discount: Discount | None,
    service_charge: ServiceCharge | None,
    gratuity: Gratuity | None,
) -> None:
    shuffled = data.draw(st.permutations(lines))
    options = {"order_discount": order_discount, "service_charge": service_charge, "gratuity": gratuity}
    first, second = compute(lines, **options), compute(shuffled, **options)  # type: ignore[arg-type]
    assert by_id(first) == by_id(second)
    assert [line.line_id for line in second.lines] == [line.line_id for line in shuffled]


@given(priced_lines, st.none() | discounts)
def test_a_discount_never_makes_a_line_negative(
    lines: list[PricedLine], order_discount: Discount | None
) -> None:
    for line in compute(lines, order_discount=order_discount).lines:
        assert 0 <= line.line_discount <= line.gross
        assert 0 <= line.order_discount <= line.gross - line.line_discount
        assert line.net == line.gross - line.line_discount - line.order_discount >= 0


@given(money, discounts)
def test_line_discount_is_between_nothing_and_the_whole_line(gross: int, discount: Discount) -> None:
    assert 0 <= line_discount(gross, discount) <= gross


@given(priced_lines, st.none() | discounts, service_charges, gratuities)
def test_the_totals_add_up(
    lines: list[PricedLine],
    order_discount: Discount | None,
    service_charge: ServiceCharge | None,
    gratuity: Gratuity | None,
) -> None:
    t = compute(lines, order_discount=order_discount, service_charge=service_charge, gratuity=gratuity)
    assert t.subtotal == sum(line.gross for line in lines)
    assert t.discounts == sum(line.line_discount + line.order_discount for line in t.lines)
    assert t.after_discounts == t.subtotal - t.discounts == sum(line.net for line in t.lines)
    assert t.total == t.after_discounts + t.service_charge + t.gratuity
    assert t.vat_total == sum(band.vat for band in t.vat) == sum(line.vat for line in t.lines) + t.service_charge_vat
    vat_bearing = t.service_charge if service_charge and service_charge.mandatory else 0
    assert sum(band.gross for band in t.vat) == t.after_discounts + vat_bearing


@given(priced_lines, st.none() | discounts, service_charges)
def test_net_plus_vat_is_gross_for_every_band(
    lines: list[PricedLine], order_discount: Discount | None, service_charge: ServiceCharge | None
) -> None:
    t = compute(lines, order_discount=order_discount, service_charge=service_charge)
    assert [band.rate for band in t.vat] == sorted({line.vat_rate for line in t.lines}, key=Decimal)
    for band in t.vat:
        assert band.net + band.vat == band.gross
        assert band.vat == vat_in_gross(band.gross, band.rate)  # once on the band, not summed
        members = [line for line in t.lines if line.vat_rate == band.rate]
        lines_gross = sum(line.net for line in members)
        assert sum(line.vat for line in members) == vat_in_gross(lines_gross, band.rate)
        # Rounding each line instead would differ from the band by at most (n + 1) half-pennies.
        per_line = sum(vat_in_gross(line.net, band.rate) for line in members)
        assert 2 * abs(per_line - vat_in_gross(lines_gross, band.rate)) <= len(members) + 1


@given(priced_lines, st.none() | discounts, rates)
def test_a_discretionary_service_charge_adds_no_vat_and_a_mandatory_one_does_not_lower_it(
    lines: list[PricedLine], order_discount: Discount | None, rate: str
) -> None:
    without = compute(lines, order_discount=order_discount)
    discretionary = compute(lines, order_discount=order_discount, service_charge=ServiceCharge(rate, False))
    mandatory = compute(lines, order_discount=order_discount, service_charge=ServiceCharge(rate, True))
    assert discretionary.vat == without.vat
    assert discretionary.service_charge_vat == 0
    assert mandatory.service_charge == discretionary.service_charge
    assert mandatory.vat_total >= without.vat_total
    assert mandatory.service_charge_vat == mandatory.vat_total - without.vat_total


@given(money, st.integers(min_value=1, max_value=20))
def test_a_shared_line_split_sums_to_the_penny(gross: int, parts: int) -> None:
    shares = split_line_gross(gross, parts)
    assert len(shares) == parts
    assert sum(shares) == gross
    assert max(shares) - min(shares) <= 1


# --- worked examples -------------------------------------------------------------------------

TWO_LINES = [PricedLine("a", 1250, "20.00"), PricedLine("b", 400, "0.00")]


def test_worked_example_order_discount_and_discretionary_service_charge() -> None:
    # subtotal 1250 + 400 = 1650; 10% order discount = 165, spread 1250:400 → 125 and 40 exactly.
    # nets 1125 and 360, after discounts 1485. Service charge 12.5% of 1485 = 185.625 → 186.
    # total 1485 + 186 = 1671. VAT 20% band: 1125 × 20/120 = 187.5 → 188 (half-up), net 937;
    # 0% band: 360, no VAT. The discretionary charge is outside VAT.
    t = compute(
        TWO_LINES, order_discount=Discount("percent", "10.00"), service_charge=ServiceCharge("12.5", False)
    )
    assert t.lines == (
        LineTotal("a", 1250, 0, 125, 1125, "20.00", 188),
        LineTotal("b", 400, 0, 40, 360, "0.00", 0),
    )
    assert (t.subtotal, t.discounts, t.after_discounts) == (1650, 165, 1485)
    assert (t.service_charge, t.service_charge_vat, t.gratuity, t.total) == (186, 0, 0, 1671)
    assert t.vat == (VatBand("0.00", 360, 360, 0), VatBand("20.00", 1125, 937, 188))
    assert t.vat_total == 188


def test_worked_example_mandatory_service_charge_bears_vat() -> None:
    # As above, but the 186 service charge is mandatory: apportioned 1125:360 → 140.91 and 45.09,
    # floors 140 + 45 = 185, the spare penny to the larger remainder (0.91) → 141 and 45.
    # 20% band: 1125 + 141 = 1266, VAT 1266/6 = 211 exactly, net 1055. 0% band: 360 + 45 = 405.
    # The lines keep 188 of the 211; the service charge's VAT is 211 − 188 = 23.
    t = compute(
        TWO_LINES, order_discount=Discount("percent", "10.00"), service_charge=ServiceCharge("12.5", True)
    )
    assert t.vat == (VatBand("0.00", 405, 405, 0), VatBand("20.00", 1266, 1055, 211))
    assert (t.vat_total, t.service_charge_vat, t.total) == (211, 23, 1671)
    assert [line.vat for line in t.lines] == [188, 0]


def test_worked_example_line_discounts_amount_order_discount_and_gratuity() -> None:
    # a: 1250 less 10% = 125 → 1125.  b: 400 less 50 → 350.  Left 1475.
    # Order discount 100 spread 1125:350 → 76.27 and 23.73; floors 76 + 23 = 99, the spare
    # penny to b (remainder 0.73) → 76 and 24. Nets 1049 and 326, after discounts 1375.
    # Gratuity 10% of 1375 = 137.5 → 138. Total 1375 + 138 = 1513.
    # 20% band: 1049 × 20/120 = 174.83 → 175, net 874.
    lines = [
        PricedLine("a", 1250, "20.00", Discount("percent", "10.00")),
        PricedLine("b", 400, "0.00", Discount("amount", 50)),
    ]
    t = compute(lines, order_discount=Discount("amount", 100), gratuity=Gratuity(percent="10.00"))
    assert t.lines == (
        LineTotal("a", 1250, 125, 76, 1049, "20.00", 175),
        LineTotal("b", 400, 50, 24, 326, "0.00", 0),
    )
    assert (t.discounts, t.after_discounts, t.gratuity, t.total) == (275, 1375, 138, 1513)
    assert t.vat == (VatBand("0.00", 326, 326, 0), VatBand("20.00", 1049, 874, 175))


def test_band_vat_rounds_half_up_not_half_even() -> None:
    # 1203 × 20/120 = 200.5: HMRC rounds ½p up → 201; banker's rounding would give 200.
    t = compute([PricedLine("a", 1203, "20.00")])
    assert t.vat == (VatBand("20.00", 1203, 1002, 201),)
    # 1050 × 5/105 = 50 exactly: no rounding at all.
    assert compute([PricedLine("a", 1050, "5")]).vat == (VatBand("5.00", 1050, 1000, 50),)


def test_a_tied_penny_goes_by_line_id_not_by_listing_order() -> None:
    # 1p order discount over 1000:1000 is a tie; it goes to line "a" (20%) however they are listed,
    # so the 20% band is 999 (VAT 999/6 = 166.5 → 167) and the 0% band 1000 either way.
    a, b = PricedLine("a", 1000, "20.00"), PricedLine("b", 1000, "0.00")
    one_penny = Discount("amount", 1)
    first, second = compute([a, b], order_discount=one_penny), compute([b, a], order_discount=one_penny)
    assert first.vat == second.vat == (VatBand("0.00", 1000, 1000, 0), VatBand("20.00", 999, 832, 167))
    assert by_id(first) == by_id(second)


def test_one_band_per_rate_however_it_is_spelled() -> None:
    # 600 + 603 = 1203 in one 20% band → 201 (each line alone: 100 + 100.5 → 201 as well).
    t = compute([PricedLine("a", 600, "20"), PricedLine("b", 603, "20.00")])
    assert t.vat == (VatBand("20.00", 1203, 1002, 201),)


def test_an_amount_order_discount_is_clamped_to_what_is_left() -> None:
    t = compute([PricedLine("a", 300, "20.00")], order_discount=Discount("amount", 1000))
    assert (t.discounts, t.after_discounts, t.total, t.vat_total) == (300, 0, 0, 0)


def test_a_gratuity_amount_is_added_outside_vat() -> None:
    t = compute([PricedLine("a", 1200, "20.00")], gratuity=Gratuity(amount=250))
    assert (t.gratuity, t.total, t.vat_total) == (250, 1450, 200)


def test_an_empty_order_is_all_zeros() -> None:
    t = compute(
        [],
        order_discount=Discount("percent", "10.00"),
        service_charge=ServiceCharge("12.5", True),
        gratuity=Gratuity(percent="10.00"),
    )
    assert t == Totals((), 0, 0, 0, 0, 0, 0, 0, (), 0)


@given(st.builds(lambda lines, d, s, g: compute(lines, order_discount=d, service_charge=s, gratuity=g),
                 priced_lines, st.none() | discounts, service_charges, gratuities))
def test_to_dict_holds_every_figure_as_asdict_would(t: Totals) -> None:
    expected = dataclasses.asdict(t)
    assert t.to_dict() == {**expected, "lines": list(expected["lines"]), "vat": list(expected["vat"])}


def test_to_dict_is_json_friendly() -> None:
    t = compute(TWO_LINES, service_charge=ServiceCharge("10", True))
    wire = json.loads(json.dumps(t.to_dict()))
    assert wire == t.to_dict()
    assert set(wire) == {
        "lines", "subtotal", "discounts", "after_discounts", "service_charge",
        "service_charge_vat", "gratuity", "total", "vat", "vat_total",
    }
    assert wire["lines"][0] == {
        "line_id": "a", "gross": 1250, "line_discount": 0, "order_discount": 0,
        "net": 1250, "vat_rate": "20.00", "vat": 208,
    }
    assert wire["vat"][1] == {"rate": "20.00", "gross": 1375, "net": 1146, "vat": 229}


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "discount",
    [
        Discount("percent", "100.01"),
        Discount("percent", "-5"),
        Discount("percent", 10),
        Discount("amount", -1),
        Discount("amount", 501),
        Discount("amount", "50"),
        Discount("amount", True),
        Discount("free", 10),  # type: ignore[arg-type]
    ],
)
def test_check_discount_refuses(discount: Discount) -> None:
    with pytest.raises(ValidationError):
        check_discount(500, discount)


@pytest.mark.parametrize(
    "discount", [Discount("percent", "100"), Discount("percent", "0"), Discount("amount", 500), Discount("amount", 0)]
)
def test_check_discount_accepts_up_to_the_whole_line(discount: Discount) -> None:
    check_discount(500, discount)


@pytest.mark.parametrize("gratuity", [Gratuity(), Gratuity(percent="10", amount=100), Gratuity(amount=-1),
                                      Gratuity(percent="101")])
def test_a_gratuity_is_exactly_one_of_percent_or_amount(gratuity: Gratuity) -> None:
    with pytest.raises(ValidationError):
        compute(TWO_LINES, gratuity=gratuity)


def test_line_ids_must_be_unique() -> None:
    with pytest.raises(ValueError):
        compute([PricedLine("a", 100, "20"), PricedLine("a", 200, "20")])


def test_a_priced_line_cannot_cost_less_than_nothing() -> None:
    with pytest.raises(ValueError):
        PricedLine("a", -1, "20")
