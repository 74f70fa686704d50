"""HTTP for the back office: the menu and the floor plan (docs/protocol.md, "Menu and floor over HTTP").

Each route is a command in REST clothes: it builds the command (`menu.upsert_item`…) with the
path's id and the JSON body as args and runs it through the dispatcher, so the rules, the
events and idempotency are those of the command. `Idempotency-Key: <uuid>` makes the command
id (a retry with the same key and body answers the first reply); without it every request is
a new command. Upserts answer 201 when they created the thing, else 200.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from pydantic import BaseModel, Field, StrictBool, StrictInt
from quart import Blueprint, request
from quart_schema import document_headers, document_request, document_response, security_scheme

from fynlo.auth.routes import bearer_principal
from fynlo.errors import ValidationError
from fynlo.floor.model import AreaFields, TableFields
from fynlo.menu.model import MAX_STOCK, CategoryFields, GroupFields, ItemFields
from fynlo.web.context import services
from fynlo.web.routes_auth import ErrorOut
from fynlo.web.routes_commands import _status
from fynlo.wire import Command

bp = Blueprint("admin", __name__)


# -- documentation models (the commands validate; these describe) ----------------------------

class IdempotencyHeaders(BaseModel):
    idempotency_key: str | None = Field(default=None, description="a UUID: the command id, for safe retries")


class CategoryOut(CategoryFields):
    id: str


class ItemOut(ItemFields):
    id: str


class GroupOut(GroupFields):
    id: str


class MenuOut(BaseModel):
    version: int
    categories: list[CategoryOut]
    items: list[ItemOut]
    modifier_groups: list[GroupOut]


class MenuChangeOut(MenuOut):
    """The `menu.updated` event's data: only what changed, with the new version."""

    created: bool | None = Field(default=None, description="upserts: whether the thing is new")


class AvailabilityIn(BaseModel):
    available: StrictBool


class StockIn(BaseModel):
    stock: StrictInt | None = Field(ge=0, le=MAX_STOCK, description="null: stop counting")
    low_stock_at: StrictInt | None = Field(default=None, ge=0, le=MAX_STOCK, description="kept when left out")


class AreaOut(AreaFields):
    id: str


class TableOut(TableFields):
    id: str


class FloorAreaOut(AreaOut):
    tables: list[TableOut]


class FloorOut(BaseModel):
    version: int
    areas: list[FloorAreaOut]


class FloorChangeOut(BaseModel):
    """The `floor.updated` event's data: only what changed, with the new version."""

    version: int
    areas: list[AreaOut]
    tables: list[TableOut]
    created: bool | None = None


# -- running a command -----------------------------------------------------------------------

async def _run(name: str, args: dict[str, Any]) -> tuple[dict[str, Any], int]:
    principal = await bearer_principal()
    key = request.headers.get("Idempotency-Key")
    try:
        command_id = str(uuid.UUID(key)) if key else str(uuid.uuid4())
    except ValueError:
        raise ValidationError("Idempotency-Key must be a UUID", field="Idempotency-Key") from None
    reply = await services().extras["dispatcher"].execute(principal, Command(command_id, name, args))
    if not reply["ok"]:
        return {"error": reply["error"]}, _status(reply)
    result = reply["result"]
    return result, 201 if isinstance(result, dict) and result.get("created") else 200


async def _body() -> dict[str, Any]:
    body = await request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object")
    return body


def _route(method: str, path: str, command: str, out: type[BaseModel], summary: str,
           body: type[BaseModel] | None = None, id_arg: str = "id") -> None:
    """Register `method path` as the command `command`. With a `body`, the path has an
    `<entity_id>` that joins the JSON body's fields as `id_arg`."""

    async def handler(**view_args: str) -> tuple[dict[str, Any], int]:
        args = {**await _body(), id_arg: view_args["entity_id"]} if body is not None else {}
        return await _run(command, args)

    handler.__name__ = command.replace(".", "_")
    handler.__doc__ = summary
    decorators: list[Callable[[Any], Any]] = [
        security_scheme([{"bearer": []}]), document_response(out, 200), document_response(ErrorOut, 401),
    ]
    if body is not None:
        decorators += [document_headers(IdempotencyHeaders), document_request(body), document_response(ErrorOut, 403),
                       document_response(ErrorOut, 404), document_response(ErrorOut, 409),
                       document_response(ErrorOut, 422)]
    if ".upsert_" in command:
        decorators.append(document_response(out, 201))
    view: Any = handler
    for decorate in decorators:
        view = decorate(view)
    bp.route(path, methods=[method])(view)


_ROUTES: list[tuple[str, str, str, type[BaseModel], str, type[BaseModel] | None, str]] = [
    ("GET", "/api/v1/menu", "menu.get", MenuOut,
     "The whole menu with its version (any role): what `menu.get` answers.", None, ""),
    ("GET", "/api/v1/floor", "floor.get", FloorOut,
     "The floor plan with its version (any role): areas with their tables, as `floor.get` answers.", None, ""),
    ("PUT", "/api/v1/menu/categories/<entity_id>", "menu.upsert_category", MenuChangeOut,
     "Create or update a menu category (manager). Fields left out keep their values.", CategoryFields, "id"),
    ("PUT", "/api/v1/menu/items/<entity_id>", "menu.upsert_item", MenuChangeOut,
     "Create or update a menu item (manager). Fields left out keep their values.", ItemFields, "id"),
    ("PUT", "/api/v1/menu/modifier-groups/<entity_id>", "menu.upsert_modifier_group", MenuChangeOut,
     "Create or update a modifier group and its options (manager); options left out are removed.",
     GroupFields, "id"),
    ("POST", "/api/v1/menu/items/<entity_id>/availability", "menu.set_available", MenuChangeOut,
     "86 an item, or bring it back (any role): every terminal sees it at once.", AvailabilityIn, "item_id"),
    ("PUT", "/api/v1/menu/items/<entity_id>/stock", "menu.set_stock", MenuChangeOut,
     "Set an item's stock count (any role, like availability); at 0 it is 86'd, above 0 a stock-out comes back.",
     StockIn, "item_id"),
    ("PUT", "/api/v1/floor/areas/<entity_id>", "floor.upsert_area", FloorChangeOut,
     "Create or update a floor area (manager).", AreaFields, "id"),
    ("PUT", "/api/v1/floor/tables/<entity_id>", "floor.upsert_table", FloorChangeOut,
     "Create or update a table (manager); `active: false` takes it off the plan.", TableFields, "id"),
]
for _route_args in _ROUTES:
    _route(*_route_args)
