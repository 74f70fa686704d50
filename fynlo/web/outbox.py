"""One connection's outgoing frames: replies and venue events, in order, bounded.

Events are offered with their seq. The pump sends each seq once, in order: anything at or
below the last seq sent is dropped, and a jump (a reconnect's replay, a message the bus lost, a
tick from a new venue owner) is filled from the events table first. So replay after a
reconnect and repair after a bus outage are the same code. A consumer that falls so far behind
that the queue fills is cut off rather than buffered without bound; it resumes from its seq.
"""

from __future__ import annotations

from typing import Awaitable, Callable

import trio

from fynlo.db import Database
from fynlo.events import read_events
from fynlo.wire import encode, event

Send = Callable[[str], Awaitable[None]]


class SlowConsumer(Exception):
    """The connection's queue filled up."""


class Outbox:
    def __init__(self, db: Database, venue_id: str, last_seq: int, size: int) -> None:
        self.db = db
        self.venue_id = venue_id
        self.last_seq = last_seq
        self._send, self._recv = trio.open_memory_channel[tuple[int | None, str | None]](size)
        self.overflowed = False

    def reply(self, text: str) -> None:
        self._offer((None, text))

    def offer(self, seq: int, frame: str | None) -> None:
        """A venue event (frame None: only "the venue is at seq", to be read from the table)."""
        if seq > self.last_seq:
            self._offer((seq, frame))

    def _offer(self, item: tuple[int | None, str | None]) -> None:
        if self.overflowed:
            return
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            self.overflowed = True
            self._send.close()

    async def pump(self, send: Send) -> None:
        """Send until the connection ends; raise SlowConsumer once the queue has overflowed."""
        async for seq, frame in self._recv:
            if seq is None:
                await send(frame or "")
                continue
            if seq <= self.last_seq:
                continue
            if seq > self.last_seq + 1 or frame is None:
                await self._catch_up(send, seq if frame is None else seq - 1)
            if frame is not None and seq == self.last_seq + 1:
                await send(frame)
                self.last_seq = seq
        if self.overflowed:
            raise SlowConsumer

    async def _catch_up(self, send: Send, upto: int) -> None:
        while self.last_seq < upto:
            after = self.last_seq
            events = await self.db.run(lambda conn: read_events(conn, self.venue_id, after, upto))
            if not events:
                return
            for ev in events:
                await send(encode(event(ev.seq, ev.name, ev.by, ev.at.isoformat(), ev.data)))
                self.last_seq = ev.seq
