"""PostgreSQL's connections lost under a running server: nothing half-written, nothing twice.

A connection that breaks before its transaction sent COMMIT took nothing with it (PostgreSQL
rolls the transaction back), so the unit of work runs again on a fresh connection; one that
breaks after COMMIT left may have committed, so the caller hears `unavailable` and a command
retried under its id gets the stored reply."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any, AsyncIterator

import pytest
import trio

from fynlo.config import Settings
from fynlo.db import Database
from fynlo.errors import Unavailable
from tests.fault_proxy import FaultProxy
from tests.support import VenueKit, new_id, ref, running_server
from tests.test_commands import post
from tests.test_orders import Waiter, events


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[FaultProxy]:
    p = FaultProxy(database_url)
    async with trio.open_nursery() as nursery:
        await nursery.start(p.run)
        yield p
        nursery.cancel_scope.cancel()


async def _count(db: Database, tag: str) -> int:
    row = await db.run(lambda c: c.execute("SELECT count(*) AS n FROM fault_marks WHERE tag = %s", (tag,)).fetchone())
    return int(row["n"])


def _killing_own_backend(tag: str, attempts: list[int], kill_on: set[int]) -> Any:
    """Work that writes a row, then (on the runs numbered in `kill_on`) has its backend killed
    before COMMIT, as `kill -9` of a PostgreSQL backend would."""
    def work(conn: Any) -> None:
        attempts.append(len(attempts) + 1)
        conn.execute("INSERT INTO fault_marks (tag) VALUES (%s)", (tag,))
        if len(attempts) in kill_on:
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())").fetchone()  # its answer never comes
    return work


async def test_a_connection_lost_before_commit_runs_the_work_again_on_a_fresh_one(db: Database) -> None:
    await db.run(lambda c: c.execute("CREATE TABLE IF NOT EXISTS fault_marks (tag text NOT NULL)"))
    for pipeline in (False, True):
        attempts: list[int] = []
        tag = new_id()
        await db.run(_killing_own_backend(tag, attempts, kill_on={1}), pipeline=pipeline)
        assert attempts == [1, 2] and await _count(db, tag) == 1, pipeline

        attempts, tag = [], new_id()
        with pytest.raises(Unavailable):
            await db.run(_killing_own_backend(tag, attempts, kill_on={1, 2, 3, 4}), pipeline=pipeline)
        assert attempts == [1, 2, 3] and await _count(db, tag) == 0, pipeline  # given up on, nothing written


async def test_pooled_connections_cut_while_idle_are_replaced_unnoticed(proxy: FaultProxy) -> None:
    async with Database.open(proxy.url, size=3) as db:
        pids = {(await db.run(lambda c: c.execute("SELECT pg_backend_pid() AS p").fetchone()))["p"] for _ in range(6)}
        assert proxy.reset() >= 1
        after = await db.run(lambda c: c.execute("SELECT pg_backend_pid() AS p").fetchone())
        assert after["p"] not in pids  # not one of the connections that were cut


async def test_an_order_edited_while_every_connection_is_cut_gets_each_line_once(
        proxy: FaultProxy, database_url: str, settings: Settings, db: Database, venue: VenueKit) -> None:
    async with running_server(settings, proxy.url) as server:
        w = Waiter(server, venue)
        order_id = await w.open("1")
        seen: Counter[str] = Counter()
        line_ids = [new_id() for _ in range(20)]

        async def add(line_id: str) -> None:
            command_id = new_id()
            args = {"order_id": order_id, "line_id": line_id, "item_id": ref(venue, "item", "Chips")}
            while True:  # what a terminal does: the same command, under the same id, until answered
                reply = await post(server, w.token, "order.add_item", args, command_id)
                seen["ok" if reply["ok"] else reply["error"]["code"]] += 1
                if reply["ok"]:
                    return
                await trio.sleep(0.05)

        cuts = []

        async def cut() -> None:
            for _ in range(5):
                await trio.sleep(0.05)
                cuts.append(proxy.reset())

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(cut)
                for line_id in line_ids:
                    nursery.start_soon(add, line_id)
        assert sum(cuts) >= 5, cuts
        assert set(seen) <= {"ok", "unavailable"} and seen["ok"] == 20, seen

        order = await w.ok("order.get", order_id=order_id)
        assert sorted(ln["line_id"] for ln in order["lines"]) == sorted(line_ids)
        assert order["version"] == 21 and order["totals"]["total"] == 20 * 450
        stored = await db.run(lambda c: c.execute(
            "SELECT id, quantity FROM order_lines WHERE order_id = %s", (order_id,)).fetchall())
        assert sorted(str(r["id"]) for r in stored) == sorted(line_ids) and {r["quantity"] for r in stored} == {1}
        updated = [e["data"] for e in await events(db, venue.venue_id)
                   if e["name"] == "order.updated" and e["data"]["order_id"] == order_id]
        assert [o["version"] for o in updated] == list(range(2, 22))  # one event per line, in order
        assert sorted({ln["line_id"] for o in updated for ln in o["lines"]}) == sorted(line_ids)
        seqs = [e["seq"] for e in await events(db, venue.venue_id)]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap, none twice


def _hold_mid_transaction(proxy: FaultProxy, tag: str) -> Any:
    """Work that locks a row, then loses the network before its next statement: a partition
    (`FaultProxy.partition`) holds the open connections' bytes, and lets new ones through."""
    def work(conn: Any) -> None:
        conn.execute("UPDATE fault_marks SET tag = tag WHERE tag = %s RETURNING tag", (tag,)).fetchone()
        trio.from_thread.run_sync(lambda: proxy.partition(new_links=False))
        conn.execute("INSERT INTO fault_marks (tag) VALUES (%s) RETURNING tag", (tag + "-after",)).fetchone()
    return work


@pytest.mark.parametrize("pipeline", [False, True])
async def test_a_unit_of_work_behind_a_partition_ends_at_its_deadline_and_leaves_no_lock(
        proxy: FaultProxy, db: Database, pipeline: bool) -> None:
    """Bytes neither answered nor refused: the unit of work ends at its deadline as `unavailable`
    rather than waiting on the kernel, writes nothing, and its server process is ended through
    a fresh connection, so the row it had locked is free again while the old one stays dark
    (mid-pipeline that process is not idle in its transaction, so no server timeout ends it)."""
    tag = new_id()
    await db.run(lambda c: c.execute("CREATE TABLE IF NOT EXISTS fault_marks (tag text NOT NULL)"))
    await db.run(lambda c: c.execute("INSERT INTO fault_marks (tag) VALUES (%s)", (tag,)))
    async with Database.open(proxy.url, size=2, deadline=1.0) as behind:
        with trio.fail_after(4):  # the kernel would keep the connection for minutes
            with pytest.raises(Unavailable) as caught:
                await behind.run(_hold_mid_transaction(proxy, tag), pipeline=pipeline)
        assert caught.value.details == {"reason": "timeout"}
        with trio.fail_after(4):  # within lock_timeout (5 s): the held transaction was ended
            await db.run(lambda c: c.execute("UPDATE fault_marks SET tag = %s WHERE tag = %s", (tag + "-moved", tag)))
        assert await _count(db, tag + "-moved") == 1 and await _count(db, tag + "-after") == 0
        # a partition of every connection, old and new: each unit ends at its deadline
        proxy.partition()
        for _ in range(2):
            with trio.fail_after(4), pytest.raises(Unavailable) as caught:
                await behind.ping()
            assert caught.value.details == {"reason": "timeout"}
        proxy.heal()
        with trio.fail_after(8):  # what was held is delivered; the pool's connections serve again
            await behind.ping()
            await behind.ping()
    assert await _count(db, tag + "-after") == 0


async def test_a_command_behind_a_partition_answers_unavailable_and_lands_once_when_sent_again(
        proxy: FaultProxy, settings: Settings, db: Database, venue: VenueKit) -> None:
    async with running_server(dataclasses.replace(settings, db_deadline_s=1.0), proxy.url) as server:
        w = Waiter(server, venue)
        order_id = await w.open("1")
        command_id = new_id()
        args = {"order_id": order_id, "line_id": new_id(), "item_id": ref(venue, "item", "Chips")}
        proxy.partition()
        with trio.fail_after(4):  # not the ask timeout (5 s), not the kernel's minutes
            reply = await post(server, w.token, "order.add_item", args, command_id)
        assert reply["error"]["code"] == "unavailable" and reply["error"]["details"] == {"reason": "timeout"}
        proxy.heal()
        with trio.fail_after(10):  # the terminal sends it again, under its id, until answered
            while not (reply := await post(server, w.token, "order.add_item", args, command_id))["ok"]:
                assert reply["error"]["code"] == "unavailable", reply
                await trio.sleep(0.2)
        order = await w.ok("order.get", order_id=order_id)
        assert [ln["line_id"] for ln in order["lines"]] == [args["line_id"]] and order["version"] == 2
