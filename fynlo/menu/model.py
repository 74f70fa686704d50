"""The menu's rules, pure: what a category, an item and a modifier group may hold, which
modifier choices an item accepts, and when a stock count takes an item off.

No I/O here: `repo.py` reads, `commands.py` and `stock.py` write.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

from fynlo.errors import ValidationError
from fynlo.venues.model import _rate as percentage

Station = Literal["kitchen", "bar", "none"]

MAX_PRICE = 10_000_000          # minor units: £100,000 is not a menu price, a typo is
MAX_STOCK = 1_000_000


# -- what a manager may write (each upsert merges its args over the current row, then
#    validates the whole of it against one of these) ------------------------------------------

class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CategoryFields(_Fields):
    name: str = Field(min_length=1, max_length=80, examples=["Mains"])
    station: Station = Field(default="kitchen", description="where its items' tickets go")
    position: StrictInt = 0


class ItemFields(_Fields):
    category_id: UUID
    name: str = Field(min_length=1, max_length=120, examples=["8oz sirloin steak"])
    description: str = Field(default="", max_length=1000)
    price: StrictInt = Field(ge=0, le=MAX_PRICE, description="minor units, VAT included")
    vat_eat_in: str = Field(default="20.00", description='percent, e.g. "20.00"')
    vat_takeaway: str = Field(default="20.00", description='percent; in the UK cold food to go is "0.00"')
    sku: str | None = Field(default=None, min_length=1, max_length=64, description="unique in the venue")
    barcode: str | None = Field(default=None, min_length=1, max_length=64)
    allergens: list[str] = Field(default_factory=list, max_length=20, examples=[["gluten", "milk"]])
    available: StrictBool = True
    stock: StrictInt | None = Field(default=None, ge=0, le=MAX_STOCK,
                                    description="null: not counted; at 0 the item is 86'd")
    low_stock_at: StrictInt | None = Field(default=None, ge=0, le=MAX_STOCK,
                                           description="menu.stock_low is sent at or below this")
    position: StrictInt = 0
    modifier_group_ids: list[UUID] = Field(default_factory=list, max_length=20)

    _rates = field_validator("vat_eat_in", "vat_takeaway")(classmethod(lambda cls, v: percentage(v)))

    @field_validator("allergens")
    @classmethod
    def _allergens(cls, value: list[str]) -> list[str]:
        names = [a.strip().lower() for a in value]
        if any(not a or len(a) > 40 for a in names):
            raise ValueError("each allergen is 1 to 40 characters")
        return list(dict.fromkeys(names))

    @field_validator("modifier_group_ids")
    @classmethod
    def _groups(cls, value: list[UUID]) -> list[UUID]:
        if len(set(value)) != len(value):
            raise ValueError("a modifier group is listed twice")
        return value


class OptionFields(_Fields):
    id: UUID
    name: str = Field(min_length=1, max_length=80, examples=["Rare"])
    price_delta: StrictInt = Field(default=0, ge=-MAX_PRICE, le=MAX_PRICE, description="minor units, VAT included")
    available: StrictBool = True


class GroupFields(_Fields):
    name: str = Field(min_length=1, max_length=80, examples=["Cooking"])
    min_choices: StrictInt = Field(default=0, ge=0, le=50, description="0: optional")
    max_choices: StrictInt = Field(default=1, ge=1, le=50)
    options: list[OptionFields] = Field(default_factory=list, max_length=50,
                                        description="the whole list: options left out are removed")

    @model_validator(mode="after")
    def _consistent(self) -> "GroupFields":
        if self.min_choices > self.max_choices:
            raise ValueError("min_choices must not exceed max_choices")
        if self.min_choices > len(self.options):
            raise ValueError("min_choices must not exceed the number of options")
        if len({o.id for o in self.options}) != len(self.options):
            raise ValueError("an option is listed twice")
        return self


# -- an item as an order sees it -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ModifierOption:
    id: str
    name: str
    price_delta: int
    available: bool


@dataclass(frozen=True, slots=True)
class ModifierGroup:
    id: str
    name: str
    min_choices: int
    max_choices: int
    options: Mapping[str, ModifierOption]  # by id, in menu order


@dataclass(frozen=True, slots=True)
class MenuItem:
    id: str
    name: str
    price: int                       # minor units, VAT included, before modifiers
    vat_eat_in: str                  # "20.00"
    vat_takeaway: str
    station: str                     # its category's: kitchen, bar or none
    category_id: str
    allergens: tuple[str, ...]
    available: bool
    stock: int | None                # None: not counted
    groups: tuple[ModifierGroup, ...]


@dataclass(frozen=True, slots=True)
class ChosenModifier:
    option_id: str
    group_id: str
    group_name: str
    name: str
    price_delta: int


def choose_modifiers(item: MenuItem, option_ids: Sequence[str]) -> tuple[ChosenModifier, ...]:
    """The modifiers an order line gets for these choices, in menu order (group, then option).

    Every group of the item is checked, so a required group left out counts as 0 chosen.

    Raises:
        ValidationError: an option chosen twice (`details.option`), one that belongs to no
            group of this item or is unavailable (`details.option`), or a group with fewer
            than min or more than max choices (`details.group`, `min`, `max`, `chosen`).
    """
    counts = Counter(option_ids)
    twice = next((o for o, n in counts.items() if n > 1), None)
    if twice is not None:
        raise ValidationError("a modifier option is chosen twice", option=twice)
    known = {o.id: o for g in item.groups for o in g.options.values()}
    for option_id in option_ids:
        option = known.get(option_id)
        if option is None:
            raise ValidationError(f"that modifier option is not one of {item.name}'s", option=option_id)
        if not option.available:
            raise ValidationError(f"{option.name} is not available", option=option_id, reason="unavailable")
    chosen: list[ChosenModifier] = []
    for group in item.groups:
        picked = [o for o in group.options.values() if o.id in counts]
        if not group.min_choices <= len(picked) <= group.max_choices:
            raise ValidationError(
                f"{group.name}: choose {_between(group.min_choices, group.max_choices)}",
                group=group.id, min=group.min_choices, max=group.max_choices, chosen=len(picked),
            )
        chosen += [ChosenModifier(o.id, group.id, group.name, o.name, o.price_delta) for o in picked]
    return tuple(chosen)


def _between(low: int, high: int) -> str:
    if low == high:
        return f"exactly {low}"
    return f"at most {high}" if low == 0 else f"{low} to {high}"


def settle(available: bool, stock_out: bool, stock: int | None) -> tuple[bool, bool]:
    """(available, stock_out) once the stock rule is applied to an item.

    A count at 0 takes the item off, whatever was asked, and marks it `stock_out`; an item the
    count took off comes back as soon as its count is above 0 again (or no longer counted).
    An item 86'd by hand (`stock_out` false) stays off until someone puts it back.
    """
    if stock == 0:
        return False, stock_out or available
    if stock_out:
        return True, False
    return available, False
