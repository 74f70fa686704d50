"""Venue leases against the commands that hold them: a renewal never waits for a command, and
a takeover never lands under one."""

from __future__ import annotations

import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import trio

from fynlo.auth.principal import Principal, Role
from fynlo.bus import MemoryBus
from fynlo.commands.unit import Tx, run_unit
from fynlo.db import Database
from fynlo.runtime import lease
from fynlo.runtime.host import VenueHost
from fynlo.wire import Command
from tests.support import VenueKit, make_settings


async def _command_holding_its_fence(db: Database, kit: VenueKit, owner: str, hold_s: float,
                                     fenced: trio.Event) -> float:
    """A command of `owner` that takes its fence (venue row and lease) and then takes `hold_s`
    before it commits, as a slow command would; returns when it committed (perf_counter)."""
    principal = Principal(kit.people["manager"].staff_id, kit.venue_id, Role.MANAGER, None, None, time.time() + 60)
    command = Command(str(uuid.uuid4()), "test.slow", {})
    token = trio.lowlevel.current_trio_token()

    def body(tx: Tx) -> None:
        tx.begin()
        tx.conn.execute("SELECT 1").fetchone()  # the fence has answered: its locks are held
        token.run_sync_soon(fenced.set)
        tx.conn.execute("SELECT pg_sleep(%s)", (hold_s,)).fetchone()

    await db.run(lambda conn: run_unit(Tx(conn, kit.venue_id, principal, command, owner, make_settings()), body))
    return time.perf_counter()


async def _seconds_left(db: Database, venue_id: str) -> float:
    row = await db.run(lambda c: c.execute(
        "SELECT extract(epoch FROM expires_at - now()) AS s FROM venue_leases WHERE venue_id = %s",
        (venue_id,)).fetchone())
    return float(row["s"])


async def _least_left(db: Database, venue_id: str, samples: int, every: float) -> float:
    """The least time the venue's lease had left over `samples` looks `every` seconds apart."""
    left = []
    for _ in range(samples):
        await trio.sleep(every)
        left.append(await _seconds_left(db, venue_id))
    return min(left)


@asynccontextmanager
async def _hosting(database_url: str, kit: VenueKit, pool_size: int) -> AsyncIterator[tuple[VenueHost, Database,
                                                                                              trio.Nursery]]:
    """A process's venue host, on a pool of `pool_size` and leases of 1 s renewed every 0.2 s,
    running the kit's venue."""
    settings = make_settings(lease_ttl_s=1.0, lease_renew_s=0.2)
    async with Database.open(database_url, size=pool_size) as pool, \
            Database.open(database_url, size=1) as lease_db, MemoryBus.open() as bus, trio.open_nursery() as nursery:
        host = VenueHost(pool, bus, settings, lease_db=lease_db)
        await nursery.start(host.run)
        assert await host.runtime_for(kit.venue_id) is not None
        yield host, pool, nursery
        nursery.cancel_scope.cancel()


async def test_a_renewal_does_not_wait_for_a_command_in_flight(database_url: str, db: Database,
                                                               kit: VenueKit) -> None:
    """Under a burst, one command after another holds the lease's row: a renewal that had to
    wait for them let the lease lapse and the venue answer `lease_lost`."""
    async with _hosting(database_url, kit, pool_size=2) as (host, pool, nursery):
        fenced = trio.Event()
        nursery.start_soon(_command_holding_its_fence, pool, kit, host.owner, 2.5, fenced)
        await fenced.wait()
        assert await _least_left(db, kit.venue_id, samples=10, every=0.2) > 0
        assert kit.venue_id in host.venues


async def test_the_lease_is_renewed_while_every_pooled_connection_is_busy(database_url: str, db: Database,
                                                                          kit: VenueKit) -> None:
    """Renewals never wait on the shared pool, not even to start a venue taken from a dead owner."""
    from tests.support import make_venue

    orphan = await make_venue(db, make_settings(), name="Orphan")  # its owner died; its lease runs out below
    await db.run(lambda c: lease.claim_one(c, orphan.venue_id, "owner-gone", "http://gone", 0.6))
    async with _hosting(database_url, kit, pool_size=1) as (host, pool, nursery):
        assert orphan.venue_id not in host.venues
        nursery.start_soon(pool.run, lambda c: c.execute("SELECT pg_sleep(3)"))  # the pool's one connection, taken
        # never expired: no command would have been refused as lease_lost
        assert await _least_left(db, kit.venue_id, samples=12, every=0.25) > 0
        assert kit.venue_id in host.venues and orphan.venue_id in host.venues
        holder = await db.run(lambda c: lease.holder(c, orphan.venue_id))
        assert holder is not None and holder["owner"] == host.owner


async def test_a_takeover_waits_for_the_old_owners_command_in_flight(db: Database, kit: VenueKit) -> None:
    """The old owner's command that passed its fence commits before another process takes the
    venue, so no write of the old owner lands after the new one has read the venue."""
    await db.run(lambda c: lease.claim_one(c, kit.venue_id, "owner-old", "http://old", 0.5))
    fenced = trio.Event()
    committed: list[float] = []
    async with trio.open_nursery() as nursery:
        async def old_command() -> None:
            committed.append(await _command_holding_its_fence(db, kit, "owner-old", 1.5, fenced))

        nursery.start_soon(old_command)
        await fenced.wait()
        await trio.sleep(0.7)  # the old lease has run out; its command has not committed
        assert await _seconds_left(db, kit.venue_id) < 0
        tries = []
        while True:
            got = await db.run(lambda c: lease.claim_one(c, kit.venue_id, "owner-new", "http://new", 30))
            tries.append(time.perf_counter())
            if got:
                break
            await trio.sleep(0.1)
    assert committed and tries[-1] > committed[0]  # taken only once the old command had committed
    assert len(tries) > 1  # refused while it was in flight, without waiting for it
    assert await db.run(lambda c: lease.holder(c, kit.venue_id)) == {"owner": "owner-new", "address": "http://new"}


async def test_a_claim_beside_this_processs_own_claim_counts_the_venue_as_held(db: Database, kit: VenueKit) -> None:
    """A command's claim meets the renewal's insert of the same venue, not yet committed: once
    it commits, the venue is this process's, not "another server's"."""
    inserted = trio.Event()
    token = trio.lowlevel.current_trio_token()

    def renewal(conn: Any) -> bool:
        got = lease.claim_one(conn, kit.venue_id, "owner-here", "http://here", 30)
        token.run_sync_soon(inserted.set)
        time.sleep(0.5)  # the insert stays uncommitted while the other claim runs
        return got

    results: dict[str, bool] = {}
    async with trio.open_nursery() as nursery:
        async def first() -> None:
            results["renewal"] = await db.run(renewal)

        nursery.start_soon(first)
        await inserted.wait()
        results["command"] = await db.run(lambda c: lease.claim_one(c, kit.venue_id, "owner-here", "http://here", 30))
    assert results == {"renewal": True, "command": True}


class _CommittingBefore:
    """A connection that, just before its `nth` statement, lets `meanwhile` commit elsewhere."""

    def __init__(self, conn: Any, nth: int, meanwhile: Any) -> None:
        self._conn, self._nth, self._meanwhile, self._sent = conn, nth, meanwhile, 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._sent += 1
        if self._sent == self._nth:
            self._meanwhile()
        return self._conn.execute(*args, **kwargs)


async def test_a_claim_sees_this_processs_own_claim_whenever_it_commits(database_url: str, db: Database) -> None:
    """Whichever of a claim's statements the other claim (the renewal) commits before, the
    venue is counted as this process's. (Once this claim has inserted the lease, the other
    waits for it to commit: the case the test before this one covers.)"""
    import psycopg
    from psycopg.rows import dict_row

    from tests.support import make_venue

    for nth in (1, 2):
        kit = await make_venue(db, make_settings(), name=f"Claimed before statement {nth}")

        def renewal_commits() -> None:
            with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as other:
                assert lease.claim_one(other, kit.venue_id, "owner-here", "http://here", 30)

        got = await db.run(lambda c: lease.claim_one(_CommittingBefore(c, nth, renewal_commits), kit.venue_id,
                                                     "owner-here", "http://here", 30))
        assert got, nth
