"""What the menu and floor editors share: upsert args, merging, and the venue lock.

An upsert creates the thing under the client's id or updates it. Fields left out of an update
keep their current values (two managers editing different fields do not undo each other, and
an item's stock, counted down by orders, is never reset by a rename); a create takes each
field's default and needs the required ones.

Lock order: every editor and every stock or table lookup made for an order takes the venue row
first (`hold_venue`, the lock `Tx.emit` takes anyway), then the rows it changes. One order for
every transaction of a venue, so they queue rather than deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable, Mapping, Sequence
from uuid import UUID

import pydantic
from psycopg import sql
from pydantic import create_model
from pydantic.fields import FieldInfo

from fynlo.commands.spec import Args, invalid
from fynlo.commands.unit import Tx
from fynlo.errors import NotFound

Row = dict[str, Any]
Reader = Callable[[Any, str, Sequence[str]], list[Row]]  # (conn, venue_id, ids) -> rows as shown
Change = Callable[[Row | None], None]                     # writes the thing, given it as it was


@dataclass(frozen=True)
class Kind:
    table: str
    read: Reader
    what: str  # its name in messages: "menu item"


@dataclass(frozen=True)
class Catalogue:
    """A versioned document of a venue that terminals cache (the menu, the floor plan).

    Each change bumps `version_column` and emits one `event` whose data is
    `{version, <kind>: [the changed ones, as the document shows them], …}`.
    """

    version_column: str
    event: str
    kinds: Mapping[str, Kind]

    def publish(self, tx: Tx, **changed: Sequence[str]) -> dict[str, Any]:
        """Bump the version and emit the event with these things; return its data.

        Call it once per command, after the rows are written (and after `hold_venue`).
        """
        version = bump(tx.conn, tx.venue_id, self.version_column)
        delta: dict[str, Any] = {"version": version}
        for key, kind in self.kinds.items():
            ids = list(changed.get(key, ()))
            delta[key] = kind.read(tx.conn, tx.venue_id, ids) if ids else []
        tx.emit(self.event, delta)
        return delta

    def edit(self, tx: Tx, key: str, entity_id: str, change: Change) -> tuple[dict[str, Any], bool]:
        """Lock the venue, refuse another venue's id, run `change(current or None)`, and
        publish the thing if it changed (else answer the current version, emitting nothing).

        Returns the event's data and whether the thing is new.
        """
        kind = self.kinds[key]
        conn, venue_id = tx.conn, tx.venue_id
        version = hold_venue(conn, venue_id)[self.version_column]
        refuse_foreign(conn, kind.table, entity_id, venue_id, kind.what)
        before = kind.read(conn, venue_id, [entity_id])
        change(before[0] if before else None)
        after = kind.read(conn, venue_id, [entity_id])
        if after != before:
            return self.publish(tx, **{key: [entity_id]}), not before
        return {"version": version, **{k: (after if k == key else []) for k in self.kinds}}, not before


def id_list(ids: Sequence[str] | None) -> list[str] | None:
    """A reader's `ids` as a query parameter (None: all of the venue's)."""
    return None if ids is None else [str(i) for i in ids]


def upsert_args(name: str, fields: type[pydantic.BaseModel], **extra: Any) -> type[Args]:
    """Command args for an upsert: `id` (a UUID) plus every field of `fields`, each optional.

    The field constraints are kept, so a wrong type or range is refused before the actor.
    """
    optional = {
        key: (_constrained(info) | None, FieldInfo(default=None, description=info.description, examples=info.examples))
        for key, info in fields.model_fields.items()
    }
    model: type[Args] = create_model(  # type: ignore[call-overload]
        name, __base__=Args, __doc__=fields.__doc__, id=(UUID, ...),
        **optional, **extra,
    )
    return model


def _constrained(info: FieldInfo) -> Any:
    """The field's type with its constraints attached (ge, max_length, strict…)."""
    return Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation


def merged(fields: type[pydantic.BaseModel], current: Mapping[str, Any] | None, args: Args, what: str) -> Any:
    """`current` (None for a create) with the fields `args` sets, validated as a whole."""
    changes = args.model_dump(exclude_unset=True, exclude={"id"})
    base = {k: v for k, v in (current or {}).items() if k in fields.model_fields}
    try:
        return fields.model_validate({**base, **changes})
    except pydantic.ValidationError as exc:
        raise invalid(f"invalid {what}", exc) from None


def hold_venue(conn: Any, venue_id: str) -> Row:
    """Lock the venue row for this transaction (before any other row: see the module doc).

    Returns its `menu_version` and `floor_version`. Raises NotFound for no such venue.
    """
    row = conn.execute(
        "SELECT menu_version, floor_version FROM venues WHERE id = %s FOR NO KEY UPDATE", (venue_id,)
    ).fetchone()
    if row is None:
        raise NotFound("venue not found")
    return row


def bump(conn: Any, venue_id: str, column: str) -> int:
    """Add one to the venue's `menu_version` or `floor_version`; return the new value."""
    query = sql.SQL("UPDATE venues SET {c} = {c} + 1 WHERE id = %s RETURNING {c}").format(c=sql.Identifier(column))
    return int(conn.execute(query, (venue_id,)).fetchone()[column])


def refuse_foreign(conn: Any, table: str, entity_id: str, venue_id: str, what: str) -> None:
    """Ids are global: one another venue already uses answers not_found, as unknown ids do."""
    query = sql.SQL("SELECT 1 FROM {} WHERE id = %s AND venue_id <> %s").format(sql.Identifier(table))
    if conn.execute(query, (entity_id, venue_id)).fetchone() is not None:
        raise NotFound(f"no such {what}", id=entity_id)


def missing(conn: Any, table: str, ids: list[str], venue_id: str) -> list[str]:
    """Those of `ids` that name no row of this venue in `table`."""
    query = sql.SQL("SELECT id FROM {} WHERE venue_id = %s AND id = ANY(%s::uuid[])").format(sql.Identifier(table))
    found = {str(r["id"]) for r in conn.execute(query, (venue_id, ids)).fetchall()}
    return [i for i in ids if i not in found]


def upsert_row(conn: Any, table: str, scope: tuple[str, str], entity_id: str, values: Mapping[str, Any]) -> None:
    """INSERT or UPDATE one row by id, only ever inside its scope (`("venue_id", venue)`…)."""
    column, owner = scope
    names = [column, *values]
    query = sql.SQL(
        "INSERT INTO {t} (id, {cols}) VALUES (%s, {vals}) ON CONFLICT (id) DO UPDATE SET {sets}"
        " WHERE {t}.{scope} = EXCLUDED.{scope} RETURNING 1"
    ).format(
        t=sql.Identifier(table),
        cols=sql.SQL(", ").join(map(sql.Identifier, names)),
        vals=sql.SQL(", ").join(sql.Placeholder() * len(names)),
        sets=sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in values),
        scope=sql.Identifier(column),
    )
    if conn.execute(query, (entity_id, owner, *values.values())).fetchone() is None:
        raise NotFound("no such thing in this venue", id=entity_id)

