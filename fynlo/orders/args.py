"""The args of the order and kitchen commands (validated before any actor sees them)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fynlo.commands.spec import Args


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    pin: str = Field(min_length=1, max_length=16)


class OrderArgs(Args):
    order_id: UUID
    expected_version: int | None = Field(default=None, ge=1)


class Approvable(OrderArgs):
    approval: Approval | None = None


class OpenArgs(OrderArgs):
    kind: Literal["dine_in", "takeaway", "delivery"] = "dine_in"
    table: UUID | None = None
    covers: int = Field(default=0, ge=0, le=999)


class AddItemArgs(OrderArgs):
    line_id: UUID
    item_id: UUID
    quantity: int = Field(default=1, ge=1, le=999)
    modifier_option_ids: list[UUID] = Field(default_factory=list, max_length=50)
    note: str = Field(default="", max_length=200)
    seat: int | None = Field(default=None, ge=1, le=99)
    course: int = Field(default=1, ge=1, le=9)


class UpdateItemArgs(OrderArgs):
    line_id: UUID
    quantity: int | None = Field(default=None, ge=1, le=999)
    modifier_option_ids: list[UUID] | None = Field(default=None, max_length=50)
    note: str | None = Field(default=None, max_length=200)
    seat: int | None = Field(default=None, ge=1, le=99)
    course: int | None = Field(default=None, ge=1, le=9)


class LineArgs(OrderArgs):
    line_id: UUID


class VoidArgs(Approvable):
    line_id: UUID
    reason: str = Field(min_length=1, max_length=200)


class CourseArgs(OrderArgs):
    course: int = Field(ge=1, le=9)


class DiscountArgs(Approvable):
    line_id: UUID | None = None
    kind: Literal["percent", "amount"]
    value: int | str
    reason: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _value_matches_kind(self) -> "DiscountArgs":
        if self.kind == "amount" and not isinstance(self.value, int):
            raise ValueError("an amount discount's value is whole minor units")
        if self.kind == "percent" and not isinstance(self.value, str):
            raise ValueError('a percent discount\'s value is a rate string such as "10.00"')
        return self


class GratuityArgs(OrderArgs):
    percent: str | None = None
    amount: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one(self) -> "GratuityArgs":
        if self.percent is not None and self.amount is not None:
            raise ValueError("give percent or amount, not both (neither clears the gratuity)")
        return self


class SplitPart(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    order_id: UUID
    line_ids: list[UUID] | None = None
    seats: list[int] | None = None

    @model_validator(mode="after")
    def _one(self) -> "SplitPart":
        if (self.line_ids is None) == (self.seats is None):
            raise ValueError("each part names line_ids or seats")
        return self


class SplitArgs(OrderArgs):
    parts: list[SplitPart] = Field(min_length=1, max_length=50)


class TransferArgs(OrderArgs):
    table: UUID


class MergeArgs(OrderArgs):
    from_order_id: UUID


class CancelArgs(Approvable):
    reason: str = Field(min_length=1, max_length=200)


class TicketArgs(OrderArgs):
    ticket_id: UUID
