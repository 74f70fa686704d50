"""The command path: gap-free seqs, all-or-nothing commands, idempotency, crashes, isolation."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
import trio

from fynlo.auth.principal import Principal, Role
from fynlo.commands.spec import Args, write
from fynlo.commands.unit import Tx, run_unit
from fynlo.db import Database
from fynlo.errors import Conflict
from fynlo.runtime import lease
from sim.http import client_for
from tests.support import VenueKit, running_server, make_settings


class _Empty(Args):
    pass


@write("test.emit_then_fail", _Empty, actor=lambda a, p: ("venue", p.venue_id))
def _emit_then_fail(tx: Tx, venue: Any, args: _Empty) -> tuple[Any, Any]:
    tx.conn.execute("UPDATE venues SET name = 'half-applied' WHERE id = %s", (tx.venue_id,))
    tx.emit("test.half", {})
    raise Conflict("refused after writing")


CRASHES: list[str] = []


@write("test.crash", _Empty, actor=lambda a, p: ("venue", p.venue_id))
def _crash(tx: Tx, venue: Any, args: _Empty) -> tuple[Any, Any]:
    CRASHES.append(tx.command.id)
    raise RuntimeError("a bug in a handler")


async def post(base: str, token: str, name: str, args: dict[str, Any] | None = None,
               command_id: str | None = None) -> dict[str, Any]:
    body = {"type": "command", "id": command_id or str(uuid.uuid4()), "name": name, "args": args or {}}
    async with client_for(base, base_url=base) as http:
        response = await http.post("/api/v1/commands", json=body, headers={"Authorization": f"Bearer {token}"})
    return response.json()


async def venue_state(db: Database, venue_id: str) -> dict[str, Any]:
    def read(conn):  # type: ignore[no-untyped-def]
        venue = conn.execute("SELECT name, last_seq FROM venues WHERE id = %s", (venue_id,)).fetchone()
        seqs = [r["seq"] for r in conn.execute(
            "SELECT seq FROM events WHERE venue_id = %s ORDER BY seq", (venue_id,)).fetchall()]
        return {"name": venue["name"], "last_seq": venue["last_seq"], "seqs": seqs}

    return await db.run(read)


async def test_200_concurrent_transactions_get_seqs_without_gap(db: Database, kit: VenueKit) -> None:
    owner = "seq-test"
    await db.run(lambda c: lease.claim_one(c, kit.venue_id, owner, "", 30))
    start = (await venue_state(db, kit.venue_id))["last_seq"]
    principal = Principal(kit.people["staff"].staff_id, kit.venue_id, Role.STAFF, None, None, time.time() + 60)
    from fynlo.wire import Command

    async def one(i: int) -> None:
        command = Command(str(uuid.uuid4()), "test.seq", {"i": i})

        def work(conn):  # type: ignore[no-untyped-def]
            return run_unit(Tx(conn, kit.venue_id, principal, command, owner, make_settings()), lambda tx: tx.emit("test.seq", {"i": i}))

        await db.run(work)

    async with trio.open_nursery() as nursery:
        for i in range(200):
            nursery.start_soon(one, i)
    state = await venue_state(db, kit.venue_id)
    assert state["seqs"] == list(range(1, start + 201))
    assert state["last_seq"] == start + 200


async def test_200_concurrent_commands_through_the_server(server: str, db: Database, kit: VenueKit) -> None:
    start = (await venue_state(db, kit.venue_id))["last_seq"]
    replies: list[dict[str, Any]] = []

    async def one(i: int) -> None:
        replies.append(await post(server, kit.token("manager"), "venue.update", {"address": f"{i} Road"}))

    async with trio.open_nursery() as nursery:
        for i in range(200):
            nursery.start_soon(one, i)
    assert [r for r in replies if not r["ok"]] == []
    state = await venue_state(db, kit.venue_id)
    assert state["seqs"] == list(range(1, start + 201))
    versions = sorted(r["result"]["version"] for r in replies)
    assert versions == list(range(2, 202))


async def test_failing_command_leaves_no_row_no_event_no_gap(server: str, db: Database, kit: VenueKit) -> None:
    before = await venue_state(db, kit.venue_id)
    reply = await post(server, kit.token("manager"), "test.emit_then_fail")
    assert reply["ok"] is False and reply["error"]["code"] == "conflict"
    after = await venue_state(db, kit.venue_id)
    assert after == before
    ok = await post(server, kit.token("manager"), "venue.update", {"address": "after"})
    assert ok["ok"]
    assert (await venue_state(db, kit.venue_id))["seqs"] == before["seqs"] + [before["last_seq"] + 1]


async def test_same_id_other_args_is_refused(server: str, kit: VenueKit) -> None:
    command_id = str(uuid.uuid4())
    first = await post(server, kit.token("manager"), "venue.update", {"address": "A"}, command_id)
    assert first["ok"]
    again = await post(server, kit.token("manager"), "venue.update", {"address": "B"}, command_id)
    assert again["ok"] is False
    assert again["error"]["code"] == "conflict"
    assert again["error"]["details"]["reason"] == "idempotency_key_reused"


async def test_replayed_id_returns_stored_reply_after_a_restart(database_url: str, db: Database, kit: VenueKit) -> None:
    command_id = str(uuid.uuid4())
    async with running_server(make_settings(), database_url) as base:
        first = await post(base, kit.token("manager"), "venue.update", {"address": "Once"}, command_id)
    assert first["ok"]
    state = await venue_state(db, kit.venue_id)
    async with running_server(make_settings(), database_url) as base:
        again = await post(base, kit.token("manager"), "venue.update", {"address": "Once"}, command_id)
        other = await post(base, kit.token("manager"), "venue.get")
    assert again == first
    assert await venue_state(db, kit.venue_id) == state
    assert other["result"]["version"] == first["result"]["version"]


async def test_crash_answers_at_once_and_the_actor_is_rebuilt(server: str, db: Database, kit: VenueKit) -> None:
    token = kit.token("manager")
    assert (await post(server, token, "venue.update", {"address": "before crash"}))["ok"]
    started = time.monotonic()
    crashed = await post(server, token, "test.crash")
    assert time.monotonic() - started < 2.0  # well under the 5 s ask timeout
    assert crashed["error"]["code"] == "internal_error"
    # the next command finds a rebuilt actor whose state came from the database
    after = await post(server, token, "venue.update", {"name": "Rebuilt"})
    assert after["ok"] and after["result"]["address"] == "before crash"
    # a crash changed nothing, so re-sending the crashed id runs it again rather than replaying
    again = await post(server, token, "test.crash", command_id=crashed["id"])
    assert again["error"]["code"] == "internal_error"
    assert CRASHES.count(crashed["id"]) == 2


async def test_restart_storm_marks_the_venue_degraded_not_the_process(server: str, db: Database, kit: VenueKit, settings) -> None:  # type: ignore[no-untyped-def]
    from tests.support import make_venue

    other = await make_venue(db, settings, "Neighbour")
    for _ in range(5):
        await post(server, kit.token("manager"), "test.crash")
    async with httpx.AsyncClient(base_url=server) as http:
        health = (await http.get("/healthz")).json()
        ready = await http.get("/readyz")
    assert kit.venue_id in health["venues"]["degraded"]
    assert other.venue_id not in health["venues"]["degraded"]
    assert ready.status_code == 200
    assert (await post(server, other.token("manager"), "venue.update", {"address": "fine"}))["ok"]
    # the degraded venue comes back once its supervisor reopens
    with trio.fail_after(5):
        while not (await post(server, kit.token("manager"), "venue.update", {"address": "back"}))["ok"]:
            await trio.sleep(0.2)


@pytest.mark.parametrize(
    "name, args, code",
    [
        ("no.such.command", {}, "validation_error"),
        ("venue.update", {"currency": 12}, "validation_error"),
        ("venue.update", {"currency": "XYZ"}, "validation_error"),
        ("venue.update", {"gratuity_options": ["150"]}, "validation_error"),
        ("venue.update", {"unknown_field": 1}, "validation_error"),
        ("venue.update", {}, "validation_error"),
        ("venue.update", {"address": "x", "expected_version": 999}, "conflict"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(server: str, db: Database, kit: VenueKit,
                                                        name: str, args: dict[str, Any], code: str) -> None:
    before = await venue_state(db, kit.venue_id)
    reply = await post(server, kit.token("manager"), name, args)
    assert reply["ok"] is False and reply["error"]["code"] == code, reply
    assert await venue_state(db, kit.venue_id) == before


async def test_staff_cannot_run_a_manager_command(server: str, db: Database, kit: VenueKit) -> None:
    before = await venue_state(db, kit.venue_id)
    reply = await post(server, kit.token("staff"), "venue.update", {"address": "nope"})
    assert reply["error"]["code"] == "forbidden"
    assert await venue_state(db, kit.venue_id) == before


async def test_http_commands_need_a_valid_token(server: str, kit: VenueKit) -> None:
    reply = await post(server, "not-a-token", "venue.get")
    assert reply["error"]["code"] == "unauthenticated"
    async with httpx.AsyncClient(base_url=server) as http:
        garbage = await http.post("/api/v1/commands", content=b"{not json", headers={"Authorization": f"Bearer {kit.token('staff')}"})
        assert garbage.status_code == 422 and garbage.json()["error"]["code"] == "validation_error"
        no_id = await http.post("/api/v1/commands", json={"type": "command", "name": "venue.get"},
                                headers={"Authorization": f"Bearer {kit.token('staff')}"})
        assert no_id.json()["error"]["code"] == "validation_error"


async def test_one_venue_cannot_see_or_touch_another(server: str, db: Database, kit: VenueKit, settings) -> None:  # type: ignore[no-untyped-def]
    from tests.support import make_venue

    other = await make_venue(db, settings, "Other Place")
    mine = await post(server, kit.token("manager"), "venue.get")
    theirs = await post(server, other.token("manager"), "venue.get")
    assert mine["result"]["id"] == kit.venue_id and theirs["result"]["id"] == other.venue_id
    before = await venue_state(db, other.venue_id)
    await post(server, kit.token("manager"), "venue.update", {"name": "Mine only"})
    assert await venue_state(db, other.venue_id) == before
    # a command id is scoped to its venue: the same id in another venue is another command
    shared = str(uuid.uuid4())
    a = await post(server, kit.token("manager"), "venue.update", {"address": "A"}, shared)
    b = await post(server, other.token("manager"), "venue.update", {"address": "B"}, shared)
    assert a["ok"] and b["ok"] and b["result"]["id"] == other.venue_id


async def test_who_runs_a_venue_says_so_even_between_two_servers(db: Database, kit: VenueKit) -> None:
    """A venue whose server died before another took it is "unavailable, retry", never not_found."""
    await db.run(lambda c: lease.claim_one(c, kit.venue_id, "owner-a", "http://a", 30))
    assert await db.run(lambda c: lease.holder(c, kit.venue_id)) == {"owner": "owner-a", "address": "http://a"}
    await db.run(lambda c: c.execute("UPDATE venue_leases SET expires_at = now() - interval '1 second'"
                                      " WHERE venue_id = %s", (kit.venue_id,)))
    assert await db.run(lambda c: lease.holder(c, kit.venue_id)) == {"owner": None, "address": None}
    assert await db.run(lambda c: lease.holder(c, str(uuid.uuid4()))) is None

