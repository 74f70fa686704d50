"""The venues this process runs: claims their leases, starts and stops their runtimes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import trio

from fynlo.bus import EventBus
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.errors import Unavailable
from fynlo.events import tick_payload, venue_seq, venue_topic
from fynlo.runtime import lease
from fynlo.runtime.venue import VenueRuntime

log = logging.getLogger("fynlo.host")


@dataclass
class _Running:
    runtime: VenueRuntime
    scope: trio.CancelScope


class VenueHost:
    def __init__(self, db: Database, bus: EventBus, settings: Settings, *, lease_db: Database,
                 address: str = "") -> None:
        self.db = db
        # The leases are renewed on a connection of their own (`lease_db`): behind a burst of
        # commands on the shared pool, a renewal could wait past the lease's time, and every
        # venue of this process would refuse commands as `lease_lost` until the next one.
        self._lease_db = lease_db
        self.bus = bus
        self.settings = settings
        self.owner = settings.instance_name
        self.address = address
        self._running: dict[str, _Running] = {}
        self._nursery: trio.Nursery | None = None
        self._valid_until = 0.0
        self._claiming: dict[str, trio.Event] = {}

    @property
    def venues(self) -> dict[str, VenueRuntime]:
        return {venue_id: r.runtime for venue_id, r in self._running.items()}

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await self._renew()
                task_status.started()
                while True:
                    await trio.sleep(self.settings.lease_renew_s)
                    await self._renew()
        finally:
            with trio.CancelScope(shield=True):
                with trio.move_on_after(2):
                    try:
                        await self._lease_db.run(lambda conn: lease.release(conn, self.owner))
                    except Unavailable:
                        pass

    async def _renew(self) -> None:
        ttl = self.settings.lease_ttl_s
        # Only a venue running before the claim can be found lost by it: one started meanwhile
        # (`runtime_for`) holds a lease the claim's statements may not have seen.
        running_before = dict(self._running)
        try:
            held = await self._lease_db.run(lambda conn: lease.claim_all(conn, self.owner, self.address, ttl))
        except Unavailable:
            if trio.current_time() > self._valid_until and self._running:
                log.error("lost the database past the lease time; stopping every venue")
                for venue_id in list(self._running):
                    self._stop(venue_id)
            return
        self._valid_until = trio.current_time() + ttl - self.settings.lease_renew_s
        assert self._nursery is not None
        for venue_id in held - self._running.keys():
            # Started beside the renewals, never awaited here: a venue's start reads through
            # the shared pool, and a renewal waiting behind it could let every lease lapse.
            self._nursery.start_soon(self._serve_claimed, venue_id, self._register(venue_id))
        for venue_id, running in running_before.items():
            if venue_id not in held and self._running.get(venue_id) is running:
                log.warning("venue lease lost", extra={"venue_id": venue_id})
                self._stop(venue_id)

    def _register(self, venue_id: str) -> _Running:
        running = self._running[venue_id] = _Running(
            VenueRuntime(venue_id, db=self.db, bus=self.bus, settings=self.settings, lease_owner=self.owner),
            trio.CancelScope())
        return running

    async def _serve(self, venue_id: str, running: _Running, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Run a venue's runtime until it is stopped; `started` once it serves."""
        try:
            with running.scope:
                await running.runtime.run(task_status=task_status)
        finally:
            if self._running.get(venue_id) is running:
                del self._running[venue_id]

    async def _serve_claimed(self, venue_id: str, running: _Running) -> None:
        try:
            await self._serve(venue_id, running)
        except Unavailable:
            log.warning("venue could not start; the next renewal tries again", extra={"venue_id": venue_id})

    def _stop(self, venue_id: str) -> None:
        running = self._running.pop(venue_id, None)
        if running is not None:
            running.scope.cancel()

    async def runtime_for(self, venue_id: str) -> VenueRuntime | None:
        """This process's runtime for the venue, claiming a free lease on the spot if it can."""
        running = self._running.get(venue_id)
        if running is not None:
            return running.runtime
        if venue_id in self._claiming:  # another command is claiming it right now
            await self._claiming[venue_id].wait()
            running = self._running.get(venue_id)
            return running.runtime if running else None
        done = self._claiming[venue_id] = trio.Event()
        try:
            ttl = self.settings.lease_ttl_s
            got = await self.db.run(lambda conn: lease.claim_one(conn, venue_id, self.owner, self.address, ttl))
            if got and venue_id not in self._running:
                assert self._nursery is not None
                await self._nursery.start(self._serve, venue_id, self._register(venue_id))
        finally:
            del self._claiming[venue_id]
            done.set()
        running = self._running.get(venue_id)
        return running.runtime if running else None

    async def announce(self, venue_id: str) -> None:
        """Events were written outside the actors (auth routes): get them to the terminals now."""
        running = self._running.get(venue_id)
        if running is not None:
            running.runtime.publisher.poke()
            return
        try:
            seq = await self.db.run(lambda conn: venue_seq(conn, venue_id))
            await self.bus.publish(venue_topic(venue_id), tick_payload(seq))
        except Unavailable:
            pass  # terminals read the events at the next one, or when the bus returns

    async def owner_of(self, venue_id: str) -> dict[str, Any] | None:
        return await self.db.run(lambda conn: lease.holder(conn, venue_id))
