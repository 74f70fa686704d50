"""The floor plan's commands: `floor.get` (any role), `floor.upsert_area` and
`floor.upsert_table` (managers and owners).

Writes run in the venue's floor actor (`("floor", venue_id)`). Each change bumps the floor
`version` and emits one `floor.updated {version, areas: [...], tables: [...]}` with what
changed; upserts answer that data plus `created`. Tables are never deleted: `active: false`
takes one off the plan, and orders opened on it keep it.
"""

from __future__ import annotations

from typing import Any, Hashable

from fynlo.auth.permissions import MANAGERS
from fynlo.auth.principal import Principal
from fynlo.commands.spec import Args, query, write
from fynlo.commands.unit import Tx
from fynlo.errors import Conflict, Forbidden, NotFound
from fynlo.floor.model import AreaFields, TableFields
from fynlo.floor.repo import read_areas, read_floor, read_tables
from fynlo.menu.editing import Catalogue, Change, Kind, merged, missing, upsert_args, upsert_row
from fynlo.runtime.entity import loader

Row = dict[str, Any]
Result = tuple[dict[str, Any], int]

FLOOR = Catalogue("floor_version", "floor.updated", {
    "areas": Kind("floor_areas", read_areas, "area"),
    "tables": Kind("floor_tables", read_tables, "table"),
})


def _floor_actor(args: Any, principal: Principal) -> Hashable:
    return ("floor", principal.venue_id)


@loader("floor")
def load_floor(conn: Any, venue_id: str, entity_id: str) -> int | None:
    """The floor actor's state is only the version it last wrote (handlers read the rows)."""
    row = conn.execute("SELECT floor_version FROM venues WHERE id = %s", (venue_id,)).fetchone()
    return None if row is None else int(row["floor_version"])


class FloorGetArgs(Args):
    pass


@query("floor.get", FloorGetArgs)
def floor_get(conn: Any, principal: Principal, args: FloorGetArgs) -> dict[str, Any]:
    return read_floor(conn, principal.venue_id)


def _upserted(tx: Tx, kind: str, entity_id: str, change: Change) -> Result:
    # permissions.RULES has no floor.* entry yet, so the dispatcher lets every role through.
    if tx.principal.role not in MANAGERS:
        raise Forbidden(f"{tx.command.name} needs the manager or owner role", required_roles=["manager", "owner"])
    delta, created = FLOOR.edit(tx, kind, entity_id, change)
    return {**delta, "created": created}, delta["version"]


def _unique_name(tx: Tx, table: str, name: str, entity_id: str) -> None:
    """Names are unique in the venue whatever their case ("t1" is "T1")."""
    taken = tx.conn.execute(
        f"SELECT 1 FROM {table} WHERE venue_id = %s AND lower(name) = lower(%s) AND id <> %s",
        (tx.venue_id, name, entity_id),
    ).fetchone()
    if taken:
        raise Conflict(f"the name {name} is already used", reason="duplicate_name", name=name)


UpsertAreaArgs = upsert_args("UpsertAreaArgs", AreaFields)
UpsertTableArgs = upsert_args("UpsertTableArgs", TableFields)


@write("floor.upsert_area", UpsertAreaArgs, actor=_floor_actor)
def upsert_area(tx: Tx, version: int | None, args: Any) -> Result:
    area_id = str(args.id)

    def change(current: Row | None) -> None:
        area = merged(AreaFields, current, args, "area")
        _unique_name(tx, "floor_areas", area.name, area_id)
        upsert_row(tx.conn, "floor_areas", ("venue_id", tx.venue_id), area_id, area.model_dump())

    return _upserted(tx, "areas", area_id, change)


@write("floor.upsert_table", UpsertTableArgs, actor=_floor_actor)
def upsert_table(tx: Tx, version: int | None, args: Any) -> Result:
    table_id = str(args.id)

    def change(current: Row | None) -> None:
        table = merged(TableFields, current, args, "table")
        values = table.model_dump(mode="json")
        if missing(tx.conn, "floor_areas", [values["area_id"]], tx.venue_id):
            raise NotFound("no such area", area_id=values["area_id"])
        _unique_name(tx, "floor_tables", table.name, table_id)
        upsert_row(tx.conn, "floor_tables", ("venue_id", tx.venue_id), table_id, values)

    return _upserted(tx, "tables", table_id, change)
