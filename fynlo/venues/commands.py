"""venue.get and venue.update."""

from __future__ import annotations

from typing import Any

import pydantic
from psycopg.types.json import Jsonb
from pydantic import Field, model_validator

from fynlo.auth.principal import Principal
from fynlo.commands.spec import Args, invalid, query, write
from fynlo.commands.unit import Tx
from fynlo.errors import Conflict, NotFound
from fynlo.runtime.entity import loader
from fynlo.venues.model import ServiceCharge, VenueSettings


class Venue:
    """The venue actor's state: its settings and their version."""

    __slots__ = ("id", "settings", "version")

    def __init__(self, id: str, settings: VenueSettings, version: int) -> None:
        self.id = id
        self.settings = settings
        self.version = version

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, **self.settings.model_dump()}


def find_venue(conn: Any, venue_id: str) -> Venue | None:
    row = conn.execute("SELECT id, name, settings, version FROM venues WHERE id = %s", (venue_id,)).fetchone()
    return None if row is None else _venue_of(row)


def _venue_of(row: dict[str, Any]) -> Venue:
    return Venue(str(row["id"]), VenueSettings(name=row["name"], **row["settings"]), row["version"])


@loader("venue")
def load_venue(conn: Any, venue_id: str, entity_id: str) -> Venue | None:
    return find_venue(conn, venue_id) if entity_id == venue_id else None


def read_venue(conn: Any, venue_id: str) -> Venue:
    """The venue, read once per unit of work (a payment asks for its settings three times),
    and not at all by a command, which read the venue's row with BEGIN (`memo["venue_row"]`).

    Reusing the first read is safe where a later one would see newer settings: a command
    checks, under the venue lock, that the venue's version is the one it started from
    (fynlo/commands/unit.py), and `save_settings` forgets what was read.
    """
    memo = getattr(conn, "memo", None)
    if memo is None:
        return _found(find_venue(conn, venue_id))
    key = f"venue:{venue_id}"
    if key not in memo:
        started = memo.get("venue_row")
        memo[key] = (_venue_of(started) if started is not None and str(started["id"]) == venue_id
                     else _found(find_venue(conn, venue_id)))
    return memo[key]  # type: ignore[no-any-return]


def _found(venue: Venue | None) -> Venue:
    if venue is None:
        raise NotFound("venue not found")
    return venue


def save_settings(conn: Any, venue_id: str, settings: VenueSettings, version: int) -> None:
    """Write a venue's settings (the name has its own column)."""
    rest = settings.model_dump(exclude={"name"})
    memo = getattr(conn, "memo", {})
    memo.pop(f"venue:{venue_id}", None)
    memo.pop("venue_row", None)
    conn.execute(
        "UPDATE venues SET name = %s, settings = %s, version = %s WHERE id = %s",
        (settings.name, Jsonb(rest), version, venue_id),
    )


class VenueGetArgs(Args):
    pass


@query("venue.get", VenueGetArgs)
def venue_get(conn: Any, principal: Principal, args: VenueGetArgs) -> dict[str, Any]:
    return read_venue(conn, principal.venue_id).view()


class VenueUpdateArgs(Args):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    address: str | None = Field(default=None, max_length=500)
    tax_id: str | None = None
    currency: str | None = None
    timezone: str | None = None
    service_charge: ServiceCharge | None = None
    gratuity_options: list[str] | None = None
    fees_to_customer: bool | None = None
    business_day_start: str | None = None
    allow_multiple_checks: bool | None = None
    discount_approval_percent: str | None = None
    blind_close: bool | None = None
    cash_rounding: int | None = None
    card_fee_percent: str | None = None
    card_fee_fixed: int | None = None
    open_banking_fee_percent: str | None = None
    platform_fee_percent: str | None = None
    qr_expiry_minutes: int | None = None
    capture_within_hours: int | None = None
    expected_version: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _something(self) -> "VenueUpdateArgs":
        if not self.model_fields_set - {"expected_version"}:
            raise ValueError("nothing to update")
        return self


@write("venue.update", VenueUpdateArgs, actor=lambda args, p: ("venue", p.venue_id))
def venue_update(tx: Tx, venue: Venue | None, args: VenueUpdateArgs) -> tuple[dict[str, Any], Venue]:
    if venue is None:
        raise NotFound("venue not found")
    if args.expected_version is not None and args.expected_version != venue.version:
        raise Conflict("the venue changed since you read it", reason="stale_version",
                       expected=args.expected_version, actual=venue.version)
    changes = args.model_dump(exclude_unset=True, exclude={"expected_version"})
    try:
        merged = VenueSettings.model_validate({**venue.settings.model_dump(), **changes})
    except pydantic.ValidationError as exc:
        raise invalid("invalid venue settings", exc) from None
    updated = Venue(venue.id, merged, venue.version + 1)
    save_settings(tx.conn, venue.id, merged, updated.version)
    tx.venue_changed()
    view = updated.view()
    tx.emit("venue.updated", view)
    return view, updated
