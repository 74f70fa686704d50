"""An order's totals from its priced lines: discounts, then service charge, then VAT.

Why this order: it is the one Square documents, and the one a guest can check on the bill: a
discount lowers what the service charge is a percentage of. Prices include VAT, so VAT is never
added on top; it is found inside each rate's gross (``vat_in_gross``), once per rate, half-up
(HMRC VATREC12030), so net + VAT = gross holds for every band by construction. Per-line VAT is
that band figure allocated over the band's lines, informational only.

Why lines are worked in ``line_id`` order: allocation gives a tied penny to the earliest part.
Working over the lines sorted by id makes every figure independent of the order in which the
lines were added or listed. Results come back in the caller's order.

Pure: no I/O; nothing of fynlo but ``fynlo.money`` and ``fynlo.errors``. See docs/money.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Literal, TypeGuard

from fynlo.errors import ValidationError
from fynlo.money import allocate, format_rate, percent_of, split_evenly, vat_in_gross

__all__ = [
    "Discount",
    "Gratuity",
    "LineTotal",
    "PricedLine",
    "ServiceCharge",
    "Totals",
    "VatBand",
    "check_discount",
    "compute",
    "line_discount",
    "split_line_gross",
]


@dataclass(frozen=True, slots=True)
class Discount:
    """A discount as staff entered it: a percent rate string (``"10.00"``) or minor units."""

    kind: Literal["percent", "amount"]
    value: int | str


@dataclass(frozen=True, slots=True)
class PricedLine:
    """One line as the totals see it: its VAT-inclusive cost and the rate for this order's kind.

    ``gross`` is (unit price + modifier deltas) × quantity, before discounts.

    Raises:
        ValueError: ``gross`` is not minor units ≥ 0: the order model prices lines, so that is
            a bug, not bad input.
    """

    line_id: str
    gross: int
    vat_rate: str
    discount: Discount | None = None

    def __post_init__(self) -> None:
        if not _is_minor_units(self.gross):
            raise ValueError(f"line {self.line_id}: gross is minor units ≥ 0, not {self.gross!r}")


@dataclass(frozen=True, slots=True)
class ServiceCharge:
    """A percent of the discounted subtotal.

    Mandatory: part of the price of the meal, so VAT-bearing; its VAT is apportioned over the
    lines' rates in proportion to their discounted amounts. Discretionary (the default a venue
    gets): the guest may decline it, so it is outside the scope of VAT.
    """

    rate: str
    mandatory: bool
    rounding: int = 0   # pennies a split moved here so that its bills add up (fynlo/orders/actions.py, `split`)


@dataclass(frozen=True, slots=True)
class Gratuity:
    """An order-level gratuity: exactly one of a percent of the discounted subtotal or an amount.

    Freely given, so outside the scope of VAT. A tip added at payment is not this: it is not
    part of the order's total.
    """

    percent: str | None = None
    amount: int | None = None
    rounding: int = 0   # as ServiceCharge's, for a percent


@dataclass(frozen=True, slots=True)
class LineTotal:
    """One line's share of the totals; ``net`` is what it costs after both discounts.

    ``vat`` is the VAT inside ``net``: the line's part of its band's VAT, for display.
    """

    line_id: str
    gross: int
    line_discount: int
    order_discount: int
    net: int
    vat_rate: str
    vat: int


@dataclass(frozen=True, slots=True)
class VatBand:
    """Everything charged at one VAT rate: ``gross = net + vat`` exactly."""

    rate: str
    gross: int
    net: int
    vat: int


@dataclass(frozen=True, slots=True)
class Totals:
    """An order's figures, ready for the bill, the payment screen and the wire.

    ``total = after_discounts + service_charge + gratuity``. ``vat`` has one band per rate on
    the order, sorted by rate; a mandatory service charge is inside the bands (its VAT is
    ``service_charge_vat``), a discretionary one and the gratuity are outside VAT. So
    ``vat_total`` = Σ line ``vat`` + ``service_charge_vat``.
    """

    lines: tuple[LineTotal, ...]
    subtotal: int
    discounts: int
    after_discounts: int
    service_charge: int
    service_charge_vat: int
    gratuity: int
    total: int
    vat: tuple[VatBand, ...]
    vat_total: int

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly: ints and rate strings, lines and bands as lists of dicts.

        Built field by field: `dataclasses.asdict` deep-copies, at twice the cost of the
        totals themselves, on every order event."""
        out: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["lines"] = [{f.name: getattr(ln, f.name) for f in fields(ln)} for ln in self.lines]
        out["vat"] = [{f.name: getattr(band, f.name) for f in fields(band)} for band in self.vat]
        return out


def _is_minor_units(value: object) -> TypeGuard[int]:
    """A whole, non-negative number of minor units (a bool is not one, though Python says int)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def line_discount(gross: int, discount: Discount | None) -> int:
    """What ``discount`` takes off ``gross``: a percent half-up, an amount at most ``gross``.

    Clamping keeps a line from going negative even when its gross falls below an amount given
    earlier (the quantity was lowered); refusing an oversized discount up front is
    ``check_discount``'s job. The order discount follows the same rule on the amount after line
    discounts.

    Raises:
        ValidationError: an unknown kind, a bad rate, or an amount that is not minor units ≥ 0.
    """
    if discount is None:
        return 0
    if discount.kind == "percent" and isinstance(discount.value, str):
        return percent_of(gross, discount.value)
    if discount.kind == "amount" and _is_minor_units(discount.value):
        return min(discount.value, gross)
    raise ValidationError(
        "a discount is a percent rate string or an amount of minor units ≥ 0",
        kind=str(discount.kind),
        value=str(discount.value),
    )


def check_discount(gross: int, discount: Discount) -> None:
    """Refuse a discount the command must not accept: over 100%, negative, or larger than
    ``gross`` (the line's, or for an order discount the amount after line discounts).

    Raises:
        ValidationError: the discount is malformed or too large.
    """
    taken = line_discount(gross, discount)  # refuses a bad kind, rate or amount
    if discount.kind == "amount" and taken != discount.value:
        raise ValidationError(
            "the discount is larger than what it discounts", amount=discount.value, gross=gross
        )


def split_line_gross(gross: int, parts: int) -> list[int]:
    """A shared line's gross across the parts of a split check: even, earliest parts take the
    odd pennies, and the parts sum to ``gross`` exactly.

    Raises:
        ValueError: ``parts`` < 1.
    """
    return split_evenly(gross, parts)


@dataclass(frozen=True, slots=True)
class _Discounted:
    """A line after both discounts, its rate in canonical form (one spelling per band)."""

    line: PricedLine
    rate: str
    line_discount: int
    order_discount: int

    @property
    def net(self) -> int:
        return self.line.gross - self.line_discount - self.order_discount


def compute(
    lines: Sequence[PricedLine],
    *,
    order_discount: Discount | None = None,
    service_charge: ServiceCharge | None = None,
    gratuity: Gratuity | None = None,
) -> Totals:
    """The order's totals: discounts, then service charge, then VAT (module docstring).

    An empty order totals zero, except a gratuity given as an amount, which stands as set.

    Raises:
        ValidationError: a malformed discount, rate, service charge or gratuity.
        ValueError: two lines share a ``line_id`` (a programming error).
    """
    discounted = _discount(_by_line_id(lines), order_discount)
    after_discounts = sum(d.net for d in discounted)
    charge = _percent_and_rounding(after_discounts, service_charge.rate, service_charge.rounding) \
        if service_charge else 0
    vat_bearing = charge if service_charge and service_charge.mandatory else 0
    bands, line_vat = _vat_bands(discounted, vat_bearing)
    by_id = {d.line.line_id: _line_total(d, line_vat[d.line.line_id]) for d in discounted}
    tip = _gratuity(after_discounts, gratuity)
    vat_total = sum(band.vat for band in bands)
    subtotal = sum(line.gross for line in lines)
    return Totals(
        lines=tuple(by_id[line.line_id] for line in lines),
        subtotal=subtotal,
        discounts=subtotal - after_discounts,
        after_discounts=after_discounts,
        service_charge=charge,
        service_charge_vat=vat_total - sum(line_vat.values()),
        gratuity=tip,
        total=after_discounts + charge + tip,
        vat=bands,
        vat_total=vat_total,
    )


def _by_line_id(lines: Sequence[PricedLine]) -> list[PricedLine]:
    """The lines in id order, so a tied penny lands on the same line however they are listed."""
    ordered = sorted(lines, key=lambda line: line.line_id)
    if any(a.line_id == b.line_id for a, b in zip(ordered, ordered[1:])):
        raise ValueError("two priced lines share a line_id")
    return ordered


def _discount(lines: list[PricedLine], order_discount: Discount | None) -> list[_Discounted]:
    """Line discounts first, then the order discount on what is left, spread by largest
    remainder over the lines' post-line-discount amounts."""
    line_offs = [line_discount(line.gross, line.discount) for line in lines]
    left = [line.gross - off for line, off in zip(lines, line_offs)]
    order_offs = _spread(line_discount(sum(left), order_discount), left)
    return [
        _Discounted(line, format_rate(line.vat_rate), line_off, order_off)
        for line, line_off, order_off in zip(lines, line_offs, order_offs)
    ]


def _spread(total: int, weights: list[int]) -> list[int]:
    """``allocate``, allowing no weights at all (an empty order has nothing to spread)."""
    return allocate(total, weights) if weights else []


def _vat_bands(
    discounted: list[_Discounted], vat_bearing_charge: int
) -> tuple[tuple[VatBand, ...], dict[str, int]]:
    """One band per rate, its VAT found once in its gross; and each line's share of that VAT.

    A mandatory service charge is apportioned over the bands by their lines' nets and joins
    their gross. The lines' VAT is the VAT inside the lines' part of the band, allocated over
    them by net, so it sums exactly; what remains of the band's VAT is the service charge's.
    """
    rates = sorted({d.rate for d in discounted}, key=Decimal)
    members = {rate: [d for d in discounted if d.rate == rate] for rate in rates}
    lines_gross = {rate: sum(d.net for d in members[rate]) for rate in rates}
    charge_parts = _spread(vat_bearing_charge, [lines_gross[rate] for rate in rates])
    bands = tuple(_band(rate, lines_gross[rate] + part) for rate, part in zip(rates, charge_parts))
    line_vat: dict[str, int] = {}
    for rate in rates:
        shares = allocate(vat_in_gross(lines_gross[rate], rate), [d.net for d in members[rate]])
        line_vat.update(zip((d.line.line_id for d in members[rate]), shares))
    return bands, line_vat


def _band(rate: str, gross: int) -> VatBand:
    vat = vat_in_gross(gross, rate)
    return VatBand(rate=rate, gross=gross, net=gross - vat, vat=vat)


def _line_total(d: _Discounted, vat: int) -> LineTotal:
    return LineTotal(
        line_id=d.line.line_id,
        gross=d.line.gross,
        line_discount=d.line_discount,
        order_discount=d.order_discount,
        net=d.net,
        vat_rate=d.rate,
        vat=vat,
    )


def _percent_and_rounding(base: int, rate: str, rounding: int) -> int:
    """A percent of `base`, plus the pennies a split moved here, never below zero."""
    return max(0, percent_of(base, rate) + rounding)


def _gratuity(base: int, gratuity: Gratuity | None) -> int:
    """The order gratuity: a percent of the discounted subtotal, or the amount as set.

    Raises:
        ValidationError: both or neither given, a bad percent, or an amount not minor units ≥ 0.
    """
    if gratuity is None:
        return 0
    if gratuity.percent is not None and gratuity.amount is None:
        return _percent_and_rounding(base, gratuity.percent, gratuity.rounding)
    if gratuity.percent is None and _is_minor_units(gratuity.amount):
        return gratuity.amount
    raise ValidationError(
        "a gratuity is exactly one of a percent or an amount of minor units ≥ 0",
        percent=gratuity.percent,
        amount=gratuity.amount,
    )
