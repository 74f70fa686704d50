"""A venue's settings: what `venue.get` shows and `venue.update` changes (pure rules)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

# ISO 4217 codes with their minor-unit exponent; money is stored in minor units of these.
CURRENCIES: dict[str, int] = {
    "GBP": 2, "EUR": 2, "USD": 2, "CAD": 2, "AUD": 2, "NZD": 2, "CHF": 2, "SEK": 2, "NOK": 2,
    "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "JPY": 0, "ISK": 0, "KRW": 0,
}


def _rate(value: str) -> str:
    """A percentage as a string with at most two decimals, 0–100 (e.g. "12.50")."""
    try:
        rate = Decimal(value)
    except (InvalidOperation, TypeError):
        raise ValueError("must be a percentage such as \"12.50\"") from None
    if not rate.is_finite() or rate < 0 or rate > 100 or rate.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("must be between 0 and 100 with at most two decimals")
    return f"{rate:.2f}"


class ServiceCharge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: str = "12.50"
    auto_min_covers: int | None = Field(default=None, ge=1, le=999)  # applied from this party size
    mandatory: bool = False  # mandatory charges bear VAT; discretionary ones do not

    _check_rate = field_validator("rate")(classmethod(lambda cls, v: _rate(v)))


class VenueSettings(BaseModel):
    """Everything a manager can set; defaults describe a UK venue."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    address: str = Field(default="", max_length=500)
    tax_id: str = Field(default="", max_length=40)
    currency: str = "GBP"
    timezone: str = "Europe/London"
    service_charge: ServiceCharge = ServiceCharge()
    gratuity_options: list[str] = ["0.00", "5.00", "10.00", "20.00"]
    fees_to_customer: bool = False
    business_day_start: str = "04:00"          # local time the day's order numbers restart
    allow_multiple_checks: bool = False        # several open orders on one table
    discount_approval_percent: str = "10.00"   # staff discounts above this need a manager's PIN
    blind_close: bool = False                  # staff closing a till do not see what was expected
    cash_rounding: int = Field(default=0, ge=0, le=100)  # cash totals round to this many minor units (0: none)
    card_fee_percent: str = "2.90"             # what the card provider charges the venue…
    card_fee_fixed: int = Field(default=30, ge=0, le=10_000)  # …plus this per payment
    open_banking_fee_percent: str = "0.20"
    platform_fee_percent: str = "0.00"         # 0 for a self-hosted venue
    qr_expiry_minutes: int = Field(default=15, ge=1, le=24 * 60)
    capture_within_hours: int = Field(default=144, ge=1, le=24 * 7)  # pre-authorised tabs are settled by then

    @field_validator("business_day_start")
    @classmethod
    def _day_start(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("must be a time of day such as \"04:00\"")
        return value

    @field_validator("discount_approval_percent", "card_fee_percent", "open_banking_fee_percent",
                     "platform_fee_percent")
    @classmethod
    def _percentages(cls, value: str) -> str:
        return _rate(value)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.upper()
        if code not in CURRENCIES:
            raise ValueError(f"unsupported currency {value!r}")
        return code

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("tax_id")
    @classmethod
    def _tax_id(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9 \-]+", value):
            raise ValueError("may hold letters, digits, spaces and dashes only")
        return value

    @field_validator("gratuity_options")
    @classmethod
    def _gratuity(cls, value: list[str]) -> list[str]:
        if len(value) > 6:
            raise ValueError("at most 6 options")
        return [_rate(v) for v in value]


def printed_header(settings: VenueSettings) -> dict[str, str]:
    """What receipts and reports print at the top."""
    return {"name": settings.name, "address": settings.address, "tax_id": settings.tax_id,
            "currency": settings.currency}
