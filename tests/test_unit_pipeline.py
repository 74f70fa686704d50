"""A command's transaction, pipelined: how often it waits for PostgreSQL, when it takes the
venue row, what it re-checks under it, and the outbox that answers before it fans out."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import psycopg
import pytest
import trio

import fynlo.commands.catalog  # noqa: F401  (registers the commands)
from fynlo.auth.principal import Principal, Role
from fynlo.commands.spec import COMMANDS
from fynlo.commands.unit import CLOCK_FRESH_S, Outcome, Replayed, Tx, VenueCache, _Raced, run_unit
from fynlo.db import Database
from fynlo.commands.calls import OutsideCall
from fynlo.errors import Conflict, Unavailable
from fynlo.floor.commands import FLOOR
from fynlo.orders import repo
from fynlo.runtime import lease
from fynlo.runtime.entity import StaleState
from fynlo.venues.commands import find_venue
from fynlo.web.outbox import Outbox, SlowConsumer
from fynlo.wire import Command
from sim.turns import TurnProxy, through
from tests.support import VenueKit, make_settings, new_id, ref
from tests.test_orders import Waiter

OWNER = "pipeline-test"


def _principal(kit: VenueKit) -> Principal:
    return Principal(kit.people["staff"].staff_id, kit.venue_id, Role.STAFF, None, None, time.time() + 600)


async def _unit(db: Database, kit: VenueKit, name: str, body: Callable[[Tx], Any], /, *, cache: VenueCache | None = None,
                command_id: str | None = None, **args: Any) -> Outcome:
    command = Command(command_id or str(uuid.uuid4()), name, args)
    return await db.run(lambda conn: run_unit(Tx(conn, kit.venue_id, _principal(kit), command, OWNER,
                                                 make_settings(), cache=cache), body), pipeline=True)


async def _command(db: Database, kit: VenueKit, state: Any, name: str, /, *, cache: VenueCache | None = None,
                   **args: Any) -> tuple[Outcome, Any]:
    """Run a real write command's handler in its unit, as its actor would."""
    spec = COMMANDS[name]
    assert spec.handler is not None
    parsed = spec.args.model_validate(args)
    states: list[Any] = []

    def body(tx: Tx) -> Any:
        result, new_state = spec.handler(tx, state, parsed)  # type: ignore[misc]
        states.append(new_state)
        return result

    outcome = await _unit(db, kit, name, body, cache=cache, **args)
    return outcome, states[-1]


@pytest.fixture
async def claimed(db: Database, venue: VenueKit) -> VenueKit:
    await db.run(lambda c: lease.claim_one(c, venue.venue_id, OWNER, "", 60))
    return venue


async def _turns_of_the_next(database_url: str, kit: VenueKit, name: str, *, warm: bool = True,
                             **args: Any) -> tuple[int, Outcome, Any]:
    """Open a takeaway order with one line, then count how often `name` on it waits for
    PostgreSQL (`sim/turns.py`); with `warm`, the venue's row is in memory by then."""
    target = psycopg.conninfo.conninfo_to_dict(database_url)
    proxy = TurnProxy((target.get("host") or "127.0.0.1", int(target.get("port") or 5432)))
    cache = VenueCache()
    async with Database.open(through(database_url, proxy.port), size=1) as db:
        order_id = new_id()
        _, order = await _command(db, kit, None, "order.open", cache=cache, order_id=order_id, kind="takeaway")
        _, order = await _command(db, kit, order, "order.add_item", cache=cache, order_id=order_id,
                                  line_id=new_id(), item_id=ref(kit, "item", "Fish & chips"))  # the item in memory
        if not warm:
            cache.snapshot = None
        proxy.delay, proxy.turns = 0.1, 0
        outcome, order = await _command(db, kit, order, name, cache=cache, order_id=order_id, **args)
        turns, proxy.delay = proxy.turns, 0.0
    assert cache.snapshot is not None and str(cache.snapshot["venue_row"]["id"]) == kit.venue_id
    return turns, outcome, order


@pytest.mark.parametrize("warm", [False, True], ids=["first of the venue", "venue row in memory"])
async def test_add_item_waits_for_postgresql_twice_or_once_with_the_venue_in_memory(
        database_url: str, claimed: VenueKit, warm: bool) -> None:
    turns, outcome, order = await _turns_of_the_next(database_url, claimed, "order.add_item", warm=warm,
                                                     line_id=new_id(), item_id=ref(claimed, "item", "Fish & chips"))
    # BEGIN with the first read; then the writes, the events, the idempotency record and COMMIT.
    # With the venue's row in memory all of it goes out at once.
    assert turns == (1 if warm else 2)
    assert outcome.reply["ok"] and len(order.lines) == 2
    assert [e.name for e in outcome.events] == ["order.updated"]


async def test_a_command_that_stamps_its_time_waits_once_with_the_venue_in_memory(
        database_url: str, db: Database, claimed: VenueKit) -> None:
    turns, outcome, order = await _turns_of_the_next(database_url, claimed, "order.send")
    stored = await db.run(lambda c: c.execute("SELECT min(created_at) AS sent, max(created_at) AS last, now() AS now"
                                              " FROM kitchen_tickets WHERE order_id = %s", (order.id,)).fetchone())
    assert turns == 1  # the ticket's time came from the venue's clock in memory, not from a read
    assert outcome.reply["ok"] and order.tickets and stored["sent"] == stored["last"] == order.tickets[0].created_at
    assert timedelta(0) < stored["now"] - stored["sent"] < timedelta(seconds=5)


def test_the_venues_clock_is_carried_forward_monotonic_and_forgotten_when_old() -> None:
    cache = VenueCache()
    assert cache.now() is None
    read = datetime(2026, 12, 6, 21, 0, tzinfo=timezone.utc)
    row = {"now": read, "venue_id": "v", "venue_name": "V", "venue_settings": {}, "version": 1,
           "menu_version": 1, "floor_version": 1}
    asked = time.perf_counter()
    cache.read(row, asked)
    first, second = cache.now(), cache.now()
    assert first is not None and second is not None and read < first < second
    assert first - read < timedelta(seconds=1)
    cache.read({**row, "now": read - timedelta(seconds=1)}, asked - 1)  # an older read changes nothing
    assert (third := cache.now()) is not None and third > second
    cache._clock = (read, asked - CLOCK_FRESH_S - 1)  # as if no command had read the time for a while
    assert cache.now() is None


async def test_a_command_whose_carried_time_is_far_off_runs_again_on_postgresqls(
        database_url: str, db: Database, claimed: VenueKit) -> None:
    cache = await _warm(db, claimed)
    assert cache._clock is not None
    read, asked = cache._clock
    cache._clock = (read - timedelta(seconds=30), asked)  # as if this server's clock had jumped
    cache._last = None
    tries: list[tuple[bool, datetime]] = []

    def body(tx: Tx) -> Any:
        tries.append((tx.ahead, repo.now(tx.conn)))
        tx.emit("test.stamped", {})
        return {}

    await _unit(db, claimed, "test.stamped", body, cache=cache)
    database_now = await db.run(lambda c: c.execute("SELECT now() AS t").fetchone()["t"])
    assert [ahead for ahead, _ in tries] == [True, False]
    assert database_now - tries[0][1] > timedelta(seconds=25)   # refused by PostgreSQL's clock…
    assert abs(database_now - tries[1][1]) < timedelta(seconds=5)  # …and read from it the second time


async def _warm(db: Database, kit: VenueKit) -> VenueCache:
    cache = VenueCache()
    await _unit(db, kit, "test.warm", lambda tx: {}, cache=cache)
    assert cache.snapshot is not None
    return cache


async def test_a_replay_that_went_ahead_is_caught_by_the_idempotency_key_and_commits_nothing(
        database_url: str, db: Database, claimed: VenueKit) -> None:
    cache = await _warm(db, claimed)
    command_id, runs = new_id(), []

    def body(tx: Tx) -> Any:
        runs.append(tx.ahead)
        tx.emit("test.once", {})
        return {"run": len(runs)}

    first = await _unit(db, claimed, "test.once", body, cache=cache, command_id=command_id)
    before = _last_seq(database_url, claimed.venue_id)
    with pytest.raises(_Raced):  # the actor then answers the stored reply (fynlo/runtime/entity.py)
        await _unit(db, claimed, "test.once", body, cache=cache, command_id=command_id)
    assert runs == [True, True] and first.reply["result"] == {"run": 1}
    assert _last_seq(database_url, claimed.venue_id) == before  # the second run's event rolled back


async def test_a_replay_that_went_ahead_answers_the_stored_reply_not_its_error_nor_its_call(
        database_url: str, db: Database, claimed: VenueKit) -> None:
    cache = await _warm(db, claimed)
    command_id = new_id()
    first = await _unit(db, claimed, "test.replay", lambda tx: {"first": True}, cache=cache, command_id=command_id)
    before = _last_seq(database_url, claimed.venue_id)

    def fails(tx: Tx) -> Any:  # the order has moved on since: now the command would fail
        tx.emit("test.replay", {})
        raise Conflict("the order is completed", reason="order_not_open")

    def calls(tx: Tx) -> Any:  # or it would end in an outside call, which records no reply
        tx.conn.execute("UPDATE staff SET name = name || '!' WHERE venue_id = %s", (tx.venue_id,))
        return OutsideCall(run=lambda providers: trio.sleep(0), finish=lambda tx, state, outcome: ({}, state))

    def stamps(tx: Tx) -> Any:  # or it succeeds again, at a later time: its reply is not recorded twice
        tx.conn.execute("UPDATE staff SET name = name || '!' WHERE venue_id = %s", (tx.venue_id,))
        return {"at": repo.now(tx.conn).isoformat()}

    for body in (fails, calls):
        with pytest.raises(Replayed) as replayed:
            await _unit(db, claimed, "test.replay", body, cache=cache, command_id=command_id)
        assert replayed.value.reply == first.reply
    with pytest.raises(_Raced):  # the actor then answers the stored reply (fynlo/runtime/entity.py)
        await _unit(db, claimed, "test.replay", stamps, cache=cache, command_id=command_id)
    assert _last_seq(database_url, claimed.venue_id) == before
    names = await db.run(lambda c: c.execute("SELECT name FROM staff WHERE venue_id = %s", (claimed.venue_id,)).fetchall())
    assert not any(r["name"].endswith("!") for r in names)


async def test_a_venue_changed_since_the_cached_read_runs_the_command_again_and_refreshes_the_cache(
        database_url: str, db: Database, claimed: VenueKit) -> None:
    cache = await _warm(db, claimed)
    with psycopg.connect(database_url, autocommit=True) as other:
        other.execute("UPDATE venues SET menu_version = menu_version + 1 WHERE id = %s", (claimed.venue_id,))
        menu_version = other.execute("SELECT menu_version FROM venues WHERE id = %s",
                                     (claimed.venue_id,)).fetchone()[0]
    tries: list[tuple[bool, int]] = []

    def body(tx: Tx) -> Any:
        tries.append((tx.ahead, tx.conn.memo["menu_version"]))
        tx.emit("test.menu_read", {})
        return {}

    outcome = await _unit(db, claimed, "test.menu_read", body, cache=cache)
    assert tries == [(True, menu_version - 1), (False, menu_version)]  # went ahead on the old menu, then read it
    assert [e.name for e in outcome.events] == ["test.menu_read"]
    assert cache.snapshot is not None and cache.snapshot["menu_version"] == menu_version


@pytest.mark.parametrize("command", ["floor.upsert_area", "venue.update"])
async def test_a_command_that_changes_the_venue_makes_the_next_one_read_it_rather_than_run_twice(
        db: Database, claimed: VenueKit, command: str) -> None:
    cache = await _warm(db, claimed)
    if command == "floor.upsert_area":
        state = await db.run(lambda c: FLOOR.load(c, claimed.venue_id, claimed.venue_id))
        args: dict[str, Any] = {"id": new_id(), "name": "Roof garden", "position": 9}
    else:
        state = await db.run(lambda c: find_venue(c, claimed.venue_id))
        args = {"name": "The Renamed Arms"}
    outcome, _ = await _command(db, claimed, state, command, cache=cache, **args)
    assert outcome.reply["ok"] and cache.snapshot is None
    tries: list[tuple[bool, int, int]] = []

    def body(tx: Tx) -> Any:
        tries.append((tx.ahead, tx.conn.memo["floor_version"], tx.conn.memo["version"]))
        tx.emit("test.after_change", {})
        return {}

    await _unit(db, claimed, "test.after_change", body, cache=cache)
    now = await db.run(lambda c: c.execute("SELECT floor_version, version FROM venues WHERE id = %s",
                                           (claimed.venue_id,)).fetchone())
    assert tries == [(False, now["floor_version"], now["version"])]  # read first, once, and up to date
    assert cache.snapshot is not None and cache.snapshot["floor_version"] == now["floor_version"]


async def test_a_command_gone_ahead_that_writes_nothing_is_checked_against_the_venue_too(
        database_url: str, db: Database, claimed: VenueKit) -> None:
    cache = await _warm(db, claimed)
    with psycopg.connect(database_url, autocommit=True) as other:
        other.execute("UPDATE venues SET version = version + 1 WHERE id = %s", (claimed.venue_id,))
    tries: list[bool] = []

    def body(tx: Tx) -> Any:  # reads the venue's settings, writes nothing, ends in an outside call
        tries.append(tx.ahead)
        return OutsideCall(run=lambda providers: trio.sleep(0), finish=lambda tx, state, outcome: ({}, state))

    outcome = await _unit(db, claimed, "test.settings_read", body, cache=cache)
    assert tries == [True, False] and outcome.call is not None  # the cached settings were old: run again


def _venue_row_locked(url: str, venue_id: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute("SELECT 1 FROM venues WHERE id = %s FOR NO KEY UPDATE NOWAIT", (venue_id,))
        except psycopg.errors.LockNotAvailable:
            return True
    return False


async def test_the_venue_row_is_taken_at_the_first_write_not_before(database_url: str, db: Database,
                                                                    claimed: VenueKit) -> None:
    seen: list[bool] = []

    def body(tx: Tx) -> Any:
        tx.conn.execute("SELECT name FROM venues WHERE id = %s", (tx.venue_id,)).fetchone()
        seen.append(_venue_row_locked(database_url, tx.venue_id))
        tx.conn.execute("UPDATE staff SET name = name WHERE venue_id = %s", (tx.venue_id,))
        tx.conn.execute("SELECT 1").fetchone()  # the UPDATE (and the lock before it) has run
        seen.append(_venue_row_locked(database_url, tx.venue_id))
        tx.emit("test.locked", {})
        return {}

    outcome = await _unit(db, claimed, "test.locked", body)
    assert seen == [False, True]
    assert not _venue_row_locked(database_url, claimed.venue_id)  # committed, released
    assert [e.name for e in outcome.events] == ["test.locked"]


async def test_a_menu_change_under_a_command_runs_it_again(database_url: str, db: Database,
                                                           claimed: VenueKit) -> None:
    tries: list[int] = []
    locked_before_writing: list[bool] = []

    def body(tx: Tx) -> Any:
        tries.append(1)
        tx.conn.execute("SELECT 1").fetchone()  # what was sent so far has run
        locked_before_writing.append(_venue_row_locked(database_url, tx.venue_id))
        if len(tries) == 1:  # another command changes the menu after this one started
            with psycopg.connect(database_url, autocommit=True) as other:
                other.execute("UPDATE venues SET menu_version = menu_version + 1 WHERE id = %s", (tx.venue_id,))
        tx.emit("test.menu_read", {"try": len(tries)})
        return {}

    before = await db.run(lambda c: c.execute("SELECT last_seq FROM venues WHERE id = %s",
                                              (claimed.venue_id,)).fetchone()["last_seq"])
    outcome = await _unit(db, claimed, "test.menu_read", body)
    assert len(tries) == 2
    assert locked_before_writing == [False, True]  # the second try holds the venue from its start
    assert [(e.seq, e.data) for e in outcome.events] == [(before + 1, {"try": 2})]


async def test_a_lost_lease_writes_nothing(db: Database, claimed: VenueKit) -> None:
    await db.run(lambda c: c.execute("UPDATE venue_leases SET owner = 'someone else' WHERE venue_id = %s",
                                     (claimed.venue_id,)))
    order_id = new_id()
    with pytest.raises(Unavailable) as caught:
        await _command(db, claimed, None, "order.open", order_id=order_id, kind="takeaway")
    assert caught.value.details.get("reason") == "lease_lost"
    assert await db.run(lambda c: repo.load(c, claimed.venue_id, order_id)) is None


def _last_seq(url: str, venue_id: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT last_seq FROM venues WHERE id = %s", (venue_id,)).fetchone()
        assert row is not None
        return int(row[0])


async def test_a_command_id_recorded_meanwhile_by_another_transaction_commits_nothing(
        database_url: str, db: Database, claimed: VenueKit) -> None:
    before = _last_seq(database_url, claimed.venue_id)

    def body(tx: Tx) -> Any:  # the same command id is recorded while this one runs
        with psycopg.connect(database_url, autocommit=True) as other:
            other.execute("INSERT INTO idempotency (venue_id, command_id, name, args_hash, reply)"
                          " VALUES (%s, %s, 'test.raced', '', '{}')", (tx.venue_id, tx.command.id))
        tx.emit("test.raced", {})
        return {}

    with pytest.raises(_Raced):
        await _unit(db, claimed, "test.raced", body)
    assert _last_seq(database_url, claimed.venue_id) == before  # no event, no seq


async def test_an_order_changed_by_another_transaction_is_stale_and_unchanged(
        database_url: str, db: Database, claimed: VenueKit) -> None:
    order_id = new_id()
    _, order = await _command(db, claimed, None, "order.open", order_id=order_id, kind="takeaway")
    with psycopg.connect(database_url, autocommit=True) as other:
        other.execute("UPDATE orders SET version = version + 1, covers = 9 WHERE id = %s", (order_id,))
    item = ref(claimed, "item", "Chips")
    with pytest.raises(StaleState):
        await _command(db, claimed, order, "order.add_item", order_id=order_id, line_id=new_id(), item_id=item)
    stored = await db.run(lambda c: repo.load(c, claimed.venue_id, order_id))
    assert stored is not None and stored.lines == () and stored.covers == 9


async def test_a_menu_change_reaches_the_next_order_line(server: str, venue: VenueKit) -> None:
    staff, manager = Waiter(server, venue), Waiter(server, venue, "manager")
    order_id = await staff.open(None)
    chips, squid = ref(venue, "item", "Chips"), ref(venue, "item", "Salt & pepper squid")
    first = await staff.add(order_id, "Chips")
    await staff.add(order_id, "Salt & pepper squid")
    await manager.ok("menu.upsert_item", id=chips, price=first["lines"][0]["unit_price"] + 100)
    await manager.ok("menu.set_available", item_id=squid, available=False)
    again = await staff.add(order_id, "Chips")
    assert again["lines"][-1]["unit_price"] == first["lines"][0]["unit_price"] + 100
    refused = await staff("order.add_item", order_id=order_id, line_id=new_id(), item_id=squid)
    assert refused["error"]["details"]["reason"] == "item_unavailable"


class _ListWriter:
    """A socket's way out that records what went out; it never writes without waiting."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.owing = False

    async def send(self, frames: list[str]) -> None:
        self.sent.extend(frames)
        await trio.lowlevel.checkpoint()

    def send_now(self, frames: list[str]) -> bool:
        return False


async def test_replies_overtake_queued_events_which_keep_their_order() -> None:
    writer = _ListWriter()
    outbox = Outbox(None, "venue", last_seq=0, size=10)  # type: ignore[arg-type]  # no gap: no reads
    for seq in (1, 2, 3):
        outbox.offer(seq, f"event {seq}")
    outbox.reply("reply")
    with trio.move_on_after(0.5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(outbox.pump, writer)
            await trio.testing.wait_all_tasks_blocked()
            outbox.offer(2, "a late copy of 2")  # already sent: dropped
            outbox.offer(4, "event 4")
            outbox.reply("second reply")
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
    assert writer.sent == ["reply", "event 1", "event 2", "event 3", "second reply", "event 4"]


class _EagerWriter(_ListWriter):
    """Writes a frame at once when the outbox asks, but for one starting "busy" (as if another
    write held the socket); a frame ending in "…" is only begun."""

    def __init__(self) -> None:
        super().__init__()
        self.sends: list[list[str]] = []  # what each call of `send` carried
        self.sends_now: list[list[str]] = []  # and of `send_now`

    def send_now(self, frames: list[str]) -> bool:
        if frames[0].startswith("busy"):
            return False
        self.sent.extend(frames)
        self.sends_now.append(list(frames))
        self.owing = frames[-1].endswith("…")
        return True

    async def send(self, frames: list[str]) -> None:
        self.owing = False  # what was owed goes first
        self.sends.append(list(frames))
        await super().send(frames)


async def test_an_idle_outbox_writes_at_once_and_a_busy_one_queues_in_order() -> None:
    writer = _EagerWriter()
    outbox = Outbox(None, "venue", last_seq=0, size=10)  # type: ignore[arg-type]
    with trio.move_on_after(0.5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(outbox.pump, writer)
            await trio.testing.wait_all_tasks_blocked()
            outbox.offer(1, "event 1")  # the pump is parked: written at once, nobody woken
            outbox.reply("reply 1")
            assert writer.sent == ["event 1", "reply 1"] and writer.sends == []
            outbox.reply("busy reply")  # not now: queued, and what follows queues behind it
            outbox.offer(2, "event 2")
            await trio.testing.wait_all_tasks_blocked()
            assert writer.sends == [["busy reply", "event 2"]]
            outbox.offer(3, "event 3 …")  # begun at once; the pump finishes it
            await trio.testing.wait_all_tasks_blocked()
            assert writer.sends[-1] == [] and not writer.owing
            outbox.offer(3, "a late copy of 3")  # already sent: dropped
            outbox.offer(4, "event 4")
            await trio.testing.wait_all_tasks_blocked()
            outbox.offer_run([(5, "event 5"), (6, "event 6")])  # one message's events: one write
            assert writer.sends_now[-1] == ["event 5", "event 6"]
            outbox.offer_run([(6, "a late copy of 6"), (7, "event 7")])  # 6 dropped, 7 through the pump
            await trio.testing.wait_all_tasks_blocked()
            assert writer.sends[-1] == ["event 7"]
            nursery.cancel_scope.cancel()
    assert writer.sent == ["event 1", "reply 1", "busy reply", "event 2", "event 3 …", "event 4",
                           "event 5", "event 6", "event 7"]
    assert outbox.last_seq == 7


async def test_an_outbox_that_overflows_sends_what_it_held_then_stops() -> None:
    writer = _ListWriter()
    outbox = Outbox(None, "venue", last_seq=0, size=2)  # type: ignore[arg-type]
    outbox.offer(1, "event 1")
    outbox.reply("reply")
    outbox.offer(2, "event 2")  # no room: the consumer is cut off
    with pytest.raises(SlowConsumer):
        await outbox.pump(writer)
    assert outbox.overflowed and writer.sent == ["reply", "event 1"]
