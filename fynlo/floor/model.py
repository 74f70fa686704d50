"""What a floor area and a table may hold (pure; `commands.py` merges and writes them)."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt


class AreaFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60, examples=["Terrace"])
    position: StrictInt = 0


class TableFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    area_id: UUID
    name: str = Field(min_length=1, max_length=40, examples=["T12"], description="unique in the venue, any case")
    seats: StrictInt = Field(default=2, ge=1, le=100)
    position: StrictInt = 0
    active: StrictBool = Field(default=True, description="false takes it off the plan; its orders keep it")
