"""Versioned documents of a venue that terminals cache, the menu and the floor plan: reading
parts of them, editing them, and telling every terminal what changed.

An upsert creates the thing under the client's id or updates it. Fields left out of an update
keep their current values (two managers editing different fields do not undo each other, and
an item's stock, counted down by orders, is never reset by a rename); a create takes each
field's default and needs the required ones. Each change bumps the document's version and
emits one event with the changed things as the document shows them; a change that changes
nothing answers the current version and emits nothing.

Lock order: every editor, and every stock or table lookup made for an order, takes the venue
row first (`hold_venue`; inside a command `Tx.begin` has already taken it, just before the
command's first write), then the rows it changes. One order for every transaction of a venue,
so they queue rather than deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable, Hashable, Mapping, Sequence
from uuid import UUID

import pydantic
from psycopg import sql
from pydantic import create_model
from pydantic.fields import FieldInfo

from fynlo.auth.principal import Principal
from fynlo.commands.spec import Args, invalid, query, write
from fynlo.commands.unit import Tx
from fynlo.errors import NotFound
from fynlo.runtime.entity import loader

Row = dict[str, Any]
Reader = Callable[[Any, str, Sequence[str] | None], list[Row]]  # (conn, venue_id, ids or all) -> rows as shown
Save = Callable[[Tx, str, Any, Any], None]  # (tx, id, the thing merged and validated, the args) -> writes it


@dataclass(frozen=True)
class Kind:
    table: str
    read: Reader
    what: str  # its name in messages: "menu item"


@dataclass(frozen=True)
class Catalogue:
    """One document: its version column on `venues`, its event, the actor kind that runs its
    writes (one per venue) and its kinds of things, keyed as the event names them."""

    version_column: str
    event: str
    actor: str
    kinds: Mapping[str, Kind]

    def serve(self, get: str, read: Callable[[Any, str], dict[str, Any]]) -> None:
        """Register the actor's loader, and the query `get` (no args) answering `read(conn, venue_id)`."""
        loader(self.actor)(self.load)
        query(get, _NoArgs)(lambda conn, principal, args: read(conn, principal.venue_id))

    def actor_key(self, args: Any, principal: Principal) -> Hashable:
        return (self.actor, principal.venue_id)

    def load(self, conn: Any, venue_id: str, entity_id: str) -> int | None:
        """The actor's state: only the version (handlers read the rows they change)."""
        row = conn.execute(sql.SQL("SELECT {} FROM venues WHERE id = %s").format(sql.Identifier(self.version_column)),
                           (venue_id,)).fetchone()
        return None if row is None else int(row[self.version_column])

    def publish(self, tx: Tx, **changed: Sequence[str]) -> dict[str, Any]:
        """Bump the version and emit the event with these things; return its data.

        Call it once per command, after the rows are written (and after `hold_venue`).
        """
        version = bump(tx.conn, tx.venue_id, self.version_column)
        tx.venue_changed()
        delta: dict[str, Any] = {"version": version}
        for key, kind in self.kinds.items():
            ids = list(changed.get(key, ()))
            delta[key] = kind.read(tx.conn, tx.venue_id, ids) if ids else []
        tx.emit(self.event, delta)
        return delta

    def edit(self, tx: Tx, key: str, entity_id: str, change: Callable[[Row | None], None]) -> tuple[dict[str, Any], bool]:
        """Lock the venue, refuse another venue's id, run `change(current or None)`, and
        publish the thing if it changed. Returns the event's data and whether the thing is new.
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

    def upsert(self, name: str, key: str, fields: type[pydantic.BaseModel]) -> Callable[[Save], Save]:
        """Register the write command `name`: create or update one `key` thing.

        The decorated `save(tx, id, thing, args)` writes `thing` (the current one with the
        args' fields, validated as `fields`) and whatever hangs off it. The command answers
        the event's data plus `created`.
        """
        kind = self.kinds[key]
        args_model = upsert_args(name, fields)

        def register(save: Save) -> Save:
            def handler(tx: Tx, state: int | None, args: Any) -> tuple[dict[str, Any], int]:
                entity_id = str(args.id)

                def change(current: Row | None) -> None:
                    save(tx, entity_id, merged(fields, current, args, kind.what), args)

                delta, created = self.edit(tx, key, entity_id, change)
                return {**delta, "created": created}, delta["version"]

            write(name, args_model, actor=self.actor_key)(handler)
            return save

        return register


class _NoArgs(Args):
    pass


def upsert_args(command: str, fields: type[pydantic.BaseModel]) -> type[Args]:
    """Command args for an upsert: `id` (a UUID) plus every field of `fields`, each optional.

    The field constraints are kept, so a wrong type or range is refused before the actor.
    """
    optional = {
        key: (_constrained(info) | None, FieldInfo(default=None, description=info.description, examples=info.examples))
        for key, info in fields.model_fields.items()
    }
    name = "".join(part.title() for part in command.replace(".", "_").split("_")) + "Args"
    model: type[Args] = create_model(name, __base__=Args, id=(UUID, ...), **optional)  # type: ignore[call-overload]
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


# -- rows ------------------------------------------------------------------------------------

def hold_venue(conn: Any, venue_id: str) -> Row:
    """Lock the venue row for this transaction (before any other row: see the module doc).

    Returns its `menu_version` and `floor_version`. Raises NotFound for no such venue.
    """
    return lock_venue(conn, venue_id)()


def lock_venue(conn: Any, venue_id: str) -> Callable[[], Row]:
    """`hold_venue` without waiting for the answer: send the lock, and call what this returns
    to read the row, once the statements sent after it need answering anyway."""
    sent = conn.execute("SELECT menu_version, floor_version FROM venues WHERE id = %s FOR NO KEY UPDATE", (venue_id,))

    def row() -> Row:
        found = sent.fetchone()
        if found is None:
            raise NotFound("venue not found")
        return found

    return row


def bump(conn: Any, venue_id: str, column: str) -> int:
    """Add one to the venue's `menu_version` or `floor_version`; return the new value."""
    query = sql.SQL("UPDATE venues SET {c} = {c} + 1 WHERE id = %s RETURNING {c}").format(c=sql.Identifier(column))
    return int(conn.execute(query, (venue_id,)).fetchone()[column])


def id_list(ids: Sequence[str] | None) -> list[str] | None:
    """A reader's `ids` as a query parameter (None: all of the venue's)."""
    return None if ids is None else [str(i) for i in ids]


def read_rows(conn: Any, table: str, columns: Sequence[str], venue_id: str, ids: Sequence[str] | None, *,
              order: str = "position, name", uuids: Sequence[str] = ("id",)) -> list[Row]:
    """This venue's rows of `table` (all, or those of `ids`), with the `uuids` columns as text."""
    query = sql.SQL(
        "SELECT {cols} FROM {t} WHERE venue_id = %(v)s AND (%(ids)s::uuid[] IS NULL OR id = ANY(%(ids)s::uuid[]))"
        " ORDER BY {order}"
    ).format(cols=sql.SQL(", ").join(map(sql.Identifier, columns)), t=sql.Identifier(table), order=sql.SQL(order))
    rows = conn.execute(query, {"v": venue_id, "ids": id_list(ids)}).fetchall()
    return [{**r, **{c: str(r[c]) for c in uuids}} for r in rows]


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
