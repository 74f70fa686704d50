"""The terminal socket: hello, replay, auth frames, bad input, slow consumers."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from fynlo.auth.tokens import mint_access
from fynlo.commands.spec import Args, query, write
from fynlo.commands.unit import Tx
from fynlo.db import Database
from sim.client import TerminalClient, ws_url
from sim.errors import HandshakeRefused
from tests.support import VenueKit, make_settings, running_server
from tests.test_commands import venue_state


class _Blob(Args):
    size: int


@write("test.blob", _Blob, actor=lambda a, p: ("venue", p.venue_id))
def _blob(tx: Tx, venue: Any, args: _Blob) -> tuple[Any, Any]:
    tx.emit("test.blob", {"blob": "x" * args.size})
    return {}, venue


@query("test.defect", Args)
def _defect(conn: Any, principal: Any, args: Args) -> Any:
    raise RuntimeError("a defect in a handler")


async def test_a_defect_answers_internal_error_and_the_socket_goes_on(server: str, kit: VenueKit) -> None:
    async with TerminalClient.connect(server, kit.token("manager")) as t:
        failed = await t.command("test.defect", {})
        assert failed["ok"] is False and failed["error"]["code"] == "internal_error"
        assert "defect" not in failed["error"]["message"]   # a client is not told the server's internals
        assert (await t.command_ok("venue.get"))["id"] == kit.venue_id


async def test_hello_welcome_and_replay_from_last_seq(server: str, kit: VenueKit) -> None:
    async with TerminalClient.connect(server, kit.token("manager"), terminal_id=kit.terminal_id) as first:
        start = first.welcome_seq
        for i in range(3):
            await first.command_ok("venue.update", {"address": f"{i} Lane"})
        await first.wait_for_seq(start + 3)
    # a terminal that saw `start` reconnects and gets exactly what it missed, in order
    async with TerminalClient.connect(server, kit.token("staff"), terminal_id=kit.terminal_id, last_seq=start) as again:
        await again.wait_for_seq(start + 3)
        assert [e["seq"] for e in again.events] == [start + 1, start + 2, start + 3]
        assert [e["data"]["address"] for e in again.events] == ["0 Lane", "1 Lane", "2 Lane"]
        assert all(e["by"] == kit.people["manager"].staff_id for e in again.events)
        assert again.welcome_seq == start + 3


async def test_every_terminal_sees_every_change(server: str, kit: VenueKit) -> None:
    async with TerminalClient.connect(server, kit.token("staff")) as a, \
            TerminalClient.connect(server, kit.token("kitchen")) as b, \
            TerminalClient.connect(server, kit.token("manager")) as writer:
        reply = await writer.command_ok("venue.update", {"name": "Seen Everywhere"})
        for t in (a, b, writer):
            event = await t.next_event()
            assert event["name"] == "venue.updated" and event["data"] == reply
        assert a.anomalies == b.anomalies == writer.anomalies == []


async def test_same_command_id_twice_returns_the_first_reply(server: str, db: Database, kit: VenueKit) -> None:
    async with TerminalClient.connect(server, kit.token("manager")) as t:
        command_id = str(uuid.uuid4())
        first = await t.command("venue.update", {"address": "Once"}, id=command_id)
        state = await venue_state(db, kit.venue_id)
        second = await t.command("venue.update", {"address": "Once"}, id=command_id)
        assert second == first and first["ok"]
        assert await venue_state(db, kit.venue_id) == state


@pytest.mark.parametrize("token", ["", "garbage", "expired", "other-venue-revoked"])
async def test_hello_with_a_bad_token_is_closed_with_a_reason(server: str, db: Database, kit: VenueKit, settings, token: str) -> None:  # type: ignore[no-untyped-def]
    if token == "expired":
        person = kit.people["staff"]
        token, _ = mint_access(settings, staff_id=person.staff_id, venue_id=kit.venue_id, role="staff",
                               terminal_id=kit.terminal_id, family_id=None, now=time.time() - 3600)
    elif token == "other-venue-revoked":
        token = kit.token("staff")
        await db.run(lambda c: c.execute("UPDATE terminals SET revoked_at = now() WHERE id = %s", (kit.terminal_id,)))
    with pytest.raises(HandshakeRefused) as refused:
        async with TerminalClient.connect(server, token or "x"):
            pass
    assert refused.value.code == 1008
    assert "unauthenticated" in str(refused.value)


async def test_first_frame_must_be_a_hello(server: str) -> None:
    async with open_websocket_url(ws_url(server)) as ws:
        await ws.send_message(json.dumps({"type": "command", "id": str(uuid.uuid4()), "name": "venue.get"}))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.get_message()
    assert closed.value.reason.code == 1008
    assert closed.value.reason.reason.startswith("validation_error")


async def test_bad_frames_get_errors_and_nothing_is_written(server: str, db: Database, kit: VenueKit) -> None:
    before = await venue_state(db, kit.venue_id)
    async with TerminalClient.connect(server, kit.token("staff")) as t, \
            TerminalClient.connect(server, kit.token("manager")) as bystander:
        await t.send_raw("{not json")
        assert (await t.next_stray_reply())["error"]["code"] == "validation_error"
        await t.send_raw(json.dumps([1, 2]))
        assert (await t.next_stray_reply())["error"]["code"] == "validation_error"
        # a lone surrogate is no text a database column could hold: refused as it arrives
        await t.send_raw('{"type": "command", "id": "%s", "name": "venue.update", "args": {"address": "\\ud800"}}'
                         % uuid.uuid4())
        assert (await t.next_stray_reply())["error"]["message"] == "frame is not valid JSON"
        await t.send_raw(json.dumps({"type": "command", "id": "not-a-uuid", "name": "venue.get"}))
        assert (await t.next_stray_reply())["error"]["code"] == "validation_error"
        assert (await t.command("no.such.thing"))["error"]["code"] == "validation_error"
        assert (await t.command("venue.update", {"address": 12}))["error"]["code"] == "forbidden"
        wrong_types = await bystander.command("venue.update", {"address": 12, "fees_to_customer": "maybe"})
        assert wrong_types["error"]["code"] == "validation_error"
        assert {e["field"] for e in wrong_types["error"]["details"]["errors"]} == {"address", "fees_to_customer"}
        # the socket carries on after all of that
        assert (await t.command_ok("venue.get"))["id"] == kit.venue_id
        assert (await bystander.command_ok("venue.get"))["id"] == kit.venue_id
    assert await venue_state(db, kit.venue_id) == before


async def test_a_frame_over_one_mebibyte_closes_only_that_socket(server: str, kit: VenueKit) -> None:
    async with TerminalClient.connect(server, kit.token("manager")) as other:
        async with open_websocket_url(ws_url(server)) as ws:
            await ws.send_message(json.dumps({"type": "hello", "token": kit.token("staff"), "last_seq": None}))
            welcome = json.loads(await ws.get_message())
            assert welcome["type"] == "welcome"
            await ws.send_message("x" * (1024 * 1024 + 10))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.get_message()
            assert closed.value.reason.code == 1009
        assert (await other.command_ok("venue.get"))["id"] == kit.venue_id


async def test_auth_frame_changes_who_is_signed_in(server: str, kit: VenueKit) -> None:
    async with TerminalClient.connect(server, kit.token("staff"), terminal_id=kit.terminal_id) as t:
        assert (await t.command("venue.update", {"address": "no"}))["error"]["code"] == "forbidden"
        answer = await t.auth(kit.token("manager"))
        assert answer["ok"] and answer["role"] == "manager"
        assert (await t.command("venue.update", {"address": "yes"}))["ok"]
        refused = await t.auth("garbage")
        assert refused["ok"] is False and refused["error"]["code"] == "unauthenticated"
        assert (await t.command("venue.update", {"address": "still manager"}))["ok"]


async def test_an_expired_token_stops_commands_not_events(database_url: str, db: Database, kit: VenueKit) -> None:
    settings = make_settings(access_token_ttl_s=2)
    async with running_server(settings, database_url) as base:
        person = kit.people["staff"]
        short, _ = mint_access(settings, staff_id=person.staff_id, venue_id=kit.venue_id, role="staff",
                               terminal_id=None, family_id=None)
        async with TerminalClient.connect(base, short) as t, TerminalClient.connect(base, kit.token("manager")) as m:
            await trio.sleep(2.5)
            assert (await t.command("venue.get"))["error"]["code"] == "unauthenticated"
            await m.command_ok("venue.update", {"address": "still flowing"})
            event = await t.next_event()
            assert event["data"]["address"] == "still flowing"
            assert not t.closed
            assert (await t.auth(kit.token("staff")))["ok"]
            assert (await t.command("venue.get"))["ok"]


async def test_lockouts_and_revoked_sessions_reach_terminals_at_once(database_url: str, kit: VenueKit) -> None:
    """Events written outside the actors (a PIN lock, a reused refresh token's revocation) are
    published when they commit, not with the next event."""
    async with running_server(make_settings(refresh_grace_s=0), database_url) as base, \
            httpx.AsyncClient(base_url=base) as http, TerminalClient.connect(base, kit.token("manager")) as t:
        async def pin(value: str) -> httpx.Response:
            return await http.post("/api/v1/auth/pin", json={"terminal_token": kit.terminal_token, "pin": value})

        session = (await pin(kit.people["staff"].pin)).json()
        assert (await http.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})).is_success
        reused = await http.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert reused.status_code == 401
        revoked = await t.next_event(timeout=2)
        assert revoked["name"] == "auth.family_revoked" and revoked["data"]["reason"] == "refresh_token_reused"

        for _ in range(5):
            assert (await pin("000000")).status_code == 401
        locked = await t.next_event(timeout=2)
        assert locked["name"] == "staff.pin_locked" and locked["data"]["scope"] == "terminal"


async def test_a_lock_by_wrong_approval_pins_reaches_terminals_at_once(server: str, kit: VenueKit) -> None:
    async with TerminalClient.connect(server, kit.token("staff"), terminal_id=kit.terminal_id) as t:
        for _ in range(5):
            refused = await t.command("order.cancel", {"order_id": str(uuid.uuid4()), "reason": "x",
                                                       "approval": {"pin": "000000"}})
            assert refused["error"]["code"] == "approval_required", refused
        locked = await t.next_event(timeout=2)
        assert locked["name"] == "staff.pin_locked"


async def test_a_slow_consumer_is_cut_off_and_resumes_from_its_seq(database_url: str, kit: VenueKit) -> None:
    settings = make_settings(send_queue_size=8)
    async with running_server(settings, database_url) as base:
        async with TerminalClient.connect(base, kit.token("manager")) as writer:
            async with open_websocket_url(ws_url(base), message_queue_size=1) as slow:
                await slow.send_message(json.dumps({"type": "hello", "token": kit.token("staff"), "last_seq": None}))
                welcome = json.loads(await slow.get_message())
                # the slow socket stops reading while 200 large events are written
                for _ in range(200):
                    await writer.command_ok("test.blob", {"size": 100_000})
                with pytest.raises(ConnectionClosed) as closed:
                    with trio.fail_after(10):
                        while True:
                            await slow.get_message()
                assert closed.value.reason.code == 1013
            # the writer was never held up, and a reconnect from the old seq replays everything
            async with TerminalClient.connect(base, kit.token("staff"), last_seq=welcome["seq"]) as back:
                await back.wait_for_seq(welcome["seq"] + 200, timeout=15)
                assert back.anomalies == [] and len(back.events) == 200


async def test_a_terminal_sees_only_its_own_venue(server: str, db: Database, kit: VenueKit, settings) -> None:  # type: ignore[no-untyped-def]
    from tests.support import make_venue

    other = await make_venue(db, settings, "Across the Road")
    async with TerminalClient.connect(server, other.token("staff")) as theirs, \
            TerminalClient.connect(server, kit.token("manager")) as mine:
        assert theirs.venue_id == other.venue_id
        await mine.command_ok("venue.update", {"address": "ours only"})
        await mine.next_event()
        await trio.sleep(0.3)
        assert theirs.events == []  # no replay asked, and nothing of another venue
