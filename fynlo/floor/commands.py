"""The floor plan's commands: `floor.get` (any role), `floor.upsert_area` and
`floor.upsert_table` (managers and owners).

Writes run in the venue's floor actor (`("floor", venue_id)`). Each change bumps the floor
`version` and emits one `floor.updated {version, areas: [...], tables: [...]}` with what
changed; upserts answer that data plus `created`. Tables are never deleted: `active: false`
takes one off the plan, and orders opened on it keep it.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from fynlo.commands.unit import Tx
from fynlo.errors import Conflict, NotFound
from fynlo.floor.model import AreaFields, TableFields
from fynlo.floor.repo import read_areas, read_floor, read_tables
from fynlo.menu.catalogue import Catalogue, Kind, missing, upsert_row

FLOOR = Catalogue("floor_version", "floor.updated", "floor", {
    "areas": Kind("floor_areas", read_areas, "area"),
    "tables": Kind("floor_tables", read_tables, "table"),
})
FLOOR.serve("floor.get", read_floor)


def _unique_name(tx: Tx, table: str, name: str, entity_id: str) -> None:
    """Names are unique in the venue whatever their case ("t1" is "T1")."""
    query = sql.SQL("SELECT 1 FROM {} WHERE venue_id = %s AND lower(name) = lower(%s) AND id <> %s")
    taken = tx.conn.execute(query.format(sql.Identifier(table)), (tx.venue_id, name, entity_id)).fetchone()
    if taken:
        raise Conflict(f"the name {name} is already used", reason="duplicate_name", name=name)


@FLOOR.upsert("floor.upsert_area", "areas", AreaFields)
def save_area(tx: Tx, area_id: str, area: AreaFields, args: Any) -> None:
    _unique_name(tx, "floor_areas", area.name, area_id)
    upsert_row(tx.conn, "floor_areas", ("venue_id", tx.venue_id), area_id, area.model_dump())


@FLOOR.upsert("floor.upsert_table", "tables", TableFields)
def save_table(tx: Tx, table_id: str, table: TableFields, args: Any) -> None:
    values = table.model_dump(mode="json")
    if missing(tx.conn, "floor_areas", [values["area_id"]], tx.venue_id):
        raise NotFound("no such area", area_id=values["area_id"])
    _unique_name(tx, "floor_tables", table.name, table_id)
    upsert_row(tx.conn, "floor_tables", ("venue_id", tx.venue_id), table_id, values)
