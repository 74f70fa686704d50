"""Fan-out of venue events to this process's sockets: one bus subscription per venue.

Every process subscribes for the venues its terminals are connected to, whichever process
runs the venue's actors, so events reach terminals on every process.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from fynlo.bus import EventBus
from fynlo.db import Database
from fynlo.errors import Unavailable
from fynlo.events import read_payload, venue_seq, venue_topic
from fynlo.web.outbox import Outbox

log = logging.getLogger("fynlo.hub")


class _Feed:
    def __init__(self) -> None:
        self.outboxes: set[Outbox] = set()
        self.scope = trio.CancelScope()


# Sockets handed an event between two of the hub's checkpoints (see `Hub._deliver`).
WAKE_AT_ONCE = 4


class Hub:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus
        self._feeds: dict[str, _Feed] = {}
        self._nursery: trio.Nursery | None = None

    @property
    def connections(self) -> int:
        return sum(len(f.outboxes) for f in self._feeds.values())

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def join(self, outbox: Outbox) -> None:
        """Deliver the venue's events to `outbox` from now on (subscribed before this returns)."""
        feed = self._feeds.get(outbox.venue_id)
        if feed is None:
            assert self._nursery is not None
            feed = self._feeds[outbox.venue_id] = _Feed()
            await self._nursery.start(self._follow, outbox.venue_id, feed)
        feed.outboxes.add(outbox)

    def leave(self, outbox: Outbox) -> None:
        feed = self._feeds.get(outbox.venue_id)
        if feed is None:
            return
        feed.outboxes.discard(outbox)
        if not feed.outboxes:
            del self._feeds[outbox.venue_id]
            feed.scope.cancel()

    async def _follow(self, venue_id: str, feed: _Feed, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        with feed.scope:
            first = True
            while True:
                try:
                    async with self.bus.subscribe(venue_topic(venue_id)) as subscription:
                        if not first:
                            await self._resync(venue_id, feed)
                        first = False
                        async for message in subscription:
                            if isinstance(message, bytes):
                                await self._deliver(feed, message)
                            else:  # BusGap
                                await self._resync(venue_id, feed)
                except Unavailable:
                    log.warning("bus subscription lost; retrying", extra={"venue_id": venue_id})
                    await trio.sleep(1.0)

    @staticmethod
    async def _deliver(feed: _Feed, message: bytes) -> None:
        """Hand the events of a bus message to every socket of the venue, a few at a time.

        An idle socket is written at once, all the message's events in one write
        (`Outbox.offer_run`); a busy one's writer wakes when its outbox gets them. Handed out
        all at once, fifty sockets would fill one round of Trio's scheduler, and whatever wakes
        after them (a command on its way to its reply) would wait for all fifty writes. Handed
        out a few per round, the writes interleave with the rest of the server's work. Nothing
        waits on a socket here, so a slow one holds up no other.
        """
        records = read_payload(message)
        for n, outbox in enumerate(list(feed.outboxes), 1):
            outbox.offer_run(records)
            if n % WAKE_AT_ONCE == 0:
                await trio.lowlevel.checkpoint()

    async def _resync(self, venue_id: str, feed: _Feed) -> None:
        """The bus may have lost messages: tell each socket where the venue stands."""
        try:
            seq = await self.db.run(lambda conn: venue_seq(conn, venue_id))
        except Unavailable:
            log.warning("cannot resync after a bus gap: database unavailable")
            return
        for outbox in list(feed.outboxes):
            outbox.offer(seq, None)
