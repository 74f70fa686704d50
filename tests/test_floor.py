"""The floor plan through a real server: areas and tables, floor.get, who may edit, another
venue's ids, and the table lookup orders use."""

from __future__ import annotations

from typing import Any

import pytest

from fynlo.db import Database
from fynlo.floor.repo import read_floor, table_for_order
from tests.support import VenueKit, make_venue
from tests.test_commands import post
from tests.test_menu import new_id, ok
from tests.test_menu import snapshot as menu_snapshot


async def snapshot(db: Database, venue_id: str) -> dict[str, Any]:
    return await menu_snapshot(db, venue_id, read_floor, "floor")


async def seed(server: str, kit: VenueKit) -> dict[str, str]:
    ids = {"main": new_id(), "terrace": new_id(), "t1": new_id(), "t2": new_id()}
    token = kit.token("manager")
    await ok(server, token, "floor.upsert_area", {"id": ids["main"], "name": "Main room", "position": 1})
    await ok(server, token, "floor.upsert_area", {"id": ids["terrace"], "name": "Terrace", "position": 2})
    await ok(server, token, "floor.upsert_table", {"id": ids["t1"], "area_id": ids["main"], "name": "T1", "seats": 4})
    await ok(server, token, "floor.upsert_table", {"id": ids["t2"], "area_id": ids["terrace"], "name": "T2"})
    return ids


async def test_areas_and_tables_make_the_floor_with_one_event_each(server: str, db: Database, kit: VenueKit) -> None:
    start = await snapshot(db, kit.venue_id)
    ids = await seed(server, kit)
    floor = await ok(server, kit.token("kitchen"), "floor.get", {})
    assert floor["version"] == start["floor"]["version"] + 4
    assert floor["areas"] == [
        {"id": ids["main"], "name": "Main room", "position": 1, "tables": [
            {"id": ids["t1"], "area_id": ids["main"], "name": "T1", "seats": 4, "position": 0, "active": True}]},
        {"id": ids["terrace"], "name": "Terrace", "position": 2, "tables": [
            {"id": ids["t2"], "area_id": ids["terrace"], "name": "T2", "seats": 2, "position": 0, "active": True}]},
    ]
    events = (await snapshot(db, kit.venue_id))["events"][len(start["events"]):]
    assert [n for n, _ in events] == ["floor.updated"] * 4
    assert events[-1][1] == {"version": floor["version"], "areas": [],
                             "tables": [floor["areas"][1]["tables"][0]]}
    # move T2 inside, keep the rest; then take it off the plan
    moved = await ok(server, kit.token("owner"), "floor.upsert_table", {"id": ids["t2"], "area_id": ids["main"]})
    assert moved["created"] is False and moved["version"] == floor["version"] + 1
    assert moved["tables"] == [{"id": ids["t2"], "area_id": ids["main"], "name": "T2", "seats": 2, "position": 0,
                                "active": True}]
    await ok(server, kit.token("manager"), "floor.upsert_table", {"id": ids["t2"], "active": False})
    again = await ok(server, kit.token("staff"), "floor.get", {})
    assert [[t["active"] for t in a["tables"]] for a in again["areas"]] == [[True, False], []]


async def test_staff_cannot_edit_the_floor(server: str, db: Database, kit: VenueKit) -> None:
    ids = await seed(server, kit)
    before = await snapshot(db, kit.venue_id)
    for role in ("staff", "kitchen"):
        for name, args in (("floor.upsert_area", {"id": new_id(), "name": "Bar"}),
                           ("floor.upsert_table", {"id": ids["t1"], "seats": 10})):
            reply = await post(server, kit.token(role), name, args)
            assert reply["error"]["code"] == "forbidden", reply
            assert reply["error"]["details"] == {"required_roles": ["manager", "owner"]}
    assert await snapshot(db, kit.venue_id) == before


@pytest.mark.parametrize(
    "name, args, code",
    [
        ("floor.upsert_table", {"id": "NEW", "area_id": "MAIN", "name": "t1"}, "conflict"),   # names ignore case
        ("floor.upsert_area", {"id": "NEW", "name": "TERRACE"}, "conflict"),
        ("floor.upsert_table", {"id": "NEW", "area_id": "NEW", "name": "T9"}, "not_found"),
        ("floor.upsert_table", {"id": "NEW", "area_id": "MAIN"}, "validation_error"),
        ("floor.upsert_table", {"id": "T1", "seats": 0}, "validation_error"),
        ("floor.upsert_table", {"id": "T1", "seats": "4"}, "validation_error"),
        ("floor.upsert_table", {"id": "T1", "name": ""}, "validation_error"),
        ("floor.upsert_area", {"id": "MAIN", "tables": []}, "validation_error"),
        ("floor.upsert_area", {"id": "NEW"}, "validation_error"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(server: str, db: Database, kit: VenueKit,
                                                        name: str, args: dict[str, Any], code: str) -> None:
    ids = await seed(server, kit)
    names = {"MAIN": ids["main"], "T1": ids["t1"], "NEW": new_id()}
    args = {k: names.get(v, v) if isinstance(v, str) else v for k, v in args.items()}
    before = await snapshot(db, kit.venue_id)
    reply = await post(server, kit.token("manager"), name, args)
    assert reply["ok"] is False and reply["error"]["code"] == code, reply
    assert await snapshot(db, kit.venue_id) == before


async def test_another_venues_floor_is_not_found(server: str, db: Database, kit: VenueKit, settings) -> None:  # type: ignore[no-untyped-def]
    other = await make_venue(db, settings, "Across the road")
    theirs = await seed(server, other)
    mine = await seed(server, kit)
    before = await snapshot(db, other.venue_id)
    for name, args in (("floor.upsert_area", {"id": theirs["main"], "name": "Mine"}),
                       ("floor.upsert_table", {"id": theirs["t1"], "seats": 9}),
                       ("floor.upsert_table", {"id": mine["t1"], "area_id": theirs["main"]}),
                       ("floor.upsert_table", {"id": new_id(), "area_id": theirs["main"], "name": "T77"})):
        reply = await post(server, kit.token("manager"), name, args)
        assert reply["error"]["code"] == "not_found", (name, reply)
    assert await snapshot(db, other.venue_id) == before
    # the same table name in two venues is fine
    assert (await ok(server, other.token("manager"), "floor.get", {}))["areas"][0]["tables"][0]["name"] == "T1"


async def test_table_for_order_locks_an_active_table_of_this_venue(server: str, db: Database, kit: VenueKit, settings) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(server, kit)
    table = await db.run(lambda c: table_for_order(c, kit.venue_id, ids["t1"]))
    assert table == {"id": ids["t1"], "name": "T1", "seats": 4, "area_id": ids["main"], "area": "Main room"}

    def locked(conn):  # type: ignore[no-untyped-def]
        table_for_order(conn, kit.venue_id, ids["t1"])
        return conn.execute(
            "SELECT count(*) AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE l.pid = pg_backend_pid() AND c.relname = 'floor_tables' AND l.mode = 'RowShareLock'"
        ).fetchone()["n"]

    assert await db.run(locked) == 1
    other = await make_venue(db, settings, "Next door")
    assert await db.run(lambda c: table_for_order(c, other.venue_id, ids["t1"])) is None
    assert await db.run(lambda c: table_for_order(c, kit.venue_id, new_id())) is None
    assert await db.run(lambda c: table_for_order(c, kit.venue_id, "T1")) is None
    await ok(server, kit.token("manager"), "floor.upsert_table", {"id": ids["t1"], "active": False})
    assert await db.run(lambda c: table_for_order(c, kit.venue_id, ids["t1"])) is None
