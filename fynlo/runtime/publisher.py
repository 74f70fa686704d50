"""One publisher per venue: committed events go out on the bus in `seq` order.

Actors hand over events after their commit, in whatever order their commits returned. The
publisher holds a later seq back until the earlier ones arrive; a seq that does not come
(an actor died between commit and hand-over) is read back from the events table, which has
it: commits of one venue happen in seq order under the venue row lock.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from fynlo.bus import EventBus
from fynlo.commands.unit import StoredEvent
from fynlo.db import Database
from fynlo.errors import Unavailable
from fynlo.events import bus_payload, read_events, tick_payload, venue_seq, venue_topic

log = logging.getLogger("fynlo.publisher")

_GAP_WAIT_S = 0.2
_BACKLOG = 10_000
_BATCH = 100  # events in one bus message at most


class Publisher:
    def __init__(self, venue_id: str, db: Database, bus: EventBus) -> None:
        self.venue_id = venue_id
        self._db = db
        self._bus = bus
        # None is a poke: "events were written outside an actor; read them from the table".
        self._send, self._recv = trio.open_memory_channel[StoredEvent | None](_BACKLOG)
        self._next = 0

    def committed(self, events: list[StoredEvent]) -> None:
        """Hand over events just committed; never blocks an actor."""
        for ev in events:
            try:
                self._send.send_nowait(ev)
            except trio.WouldBlock:
                log.warning("publisher backlog full; subscribers will read from the events table")

    def poke(self) -> None:
        """Events were committed outside the actors (a sign-in, a lockout): publish them too."""
        try:
            self._send.send_nowait(None)
        except trio.WouldBlock:
            pass  # a full backlog is read from the table anyway

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Publish the venue's events in seq order until cancelled: first a tick of where the venue stands,
        then each event, reading any seq that does not arrive back from the events table."""
        current = await self._db.run(lambda conn: venue_seq(conn, self.venue_id))
        self._next = current + 1
        task_status.started()
        # A new owner announces where the venue stands, so a terminal that missed the
        # last events of a crashed owner reads them now rather than at the next event.
        await self._publish(tick_payload(current))
        held: dict[int, StoredEvent] = {}
        while True:
            handed: list[StoredEvent | None] = []
            with trio.move_on_after(_GAP_WAIT_S if held else float("inf")):
                handed.append(await self._recv.receive())
            if not handed:  # a seq held back for too long: the table has what is missing
                await self._fill_gap(held, upto=min(held) - 1)
            while True:  # whatever else was handed over meanwhile (the rest of a command's events)
                try:
                    handed.append(self._recv.receive_nowait())
                except trio.WouldBlock:
                    break
            for ev in handed:
                if ev is None:
                    await self._fill_gap(held, upto=None)
                elif ev.seq >= self._next:
                    held[ev.seq] = ev
            await self._drain(held)

    async def _drain(self, held: dict[int, StoredEvent]) -> None:
        """Publish the events that follow on from the last one published, up to `_BATCH` to a
        message (a backlog after a slow moment goes out in several)."""
        run = []
        while self._next in held:
            run.append(held.pop(self._next))
            self._next += 1
            if len(run) == _BATCH:
                await self._publish(bus_payload(run))
                run = []
        if run:
            await self._publish(bus_payload(run))

    async def _fill_gap(self, held: dict[int, StoredEvent], upto: int | None) -> None:
        """Read what the table has after the last seq published (up to `upto`, or all)."""
        last = self._next - 1

        def read(conn: Any) -> list[StoredEvent]:
            return read_events(conn, self.venue_id, last, venue_seq(conn, self.venue_id) if upto is None else upto)

        try:
            missing = await self._db.run(read)
        except Unavailable:
            return  # try again after the next wait
        for ev in missing:
            held.setdefault(ev.seq, ev)

    async def _publish(self, payload: bytes) -> None:
        try:
            await self._bus.publish(venue_topic(self.venue_id), payload)
        except Unavailable:
            # Subscribers notice the gap at the next event or when the bus comes back.
            log.warning("bus unavailable; event left for subscribers to read from the database")
