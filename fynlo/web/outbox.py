"""One connection's outgoing frames: replies and venue events, bounded.

Replies go out before events that are still waiting: a terminal's command is answered as soon
as it is committed, rather than after the fan-out it caused reached this socket (an `order.send`
queues five events or more on every socket). Nothing orders a reply against events in the
contract, and events keep their own order.

Events are offered with their seq. The pump sends each seq once, in order: anything at or
below the last seq sent is dropped, and a jump (a reconnect's replay, a message the bus lost, a
tick from a new venue owner) is filled from the events table first. So replay after a
reconnect and repair after a bus outage are the same code. A consumer that falls so far behind
that the queue fills is cut off rather than buffered without bound; it resumes from its seq.
"""

from __future__ import annotations

from collections import deque
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
        self._size = size
        self._replies: deque[str] = deque()
        self._events: deque[tuple[int, str | None]] = deque()
        self._waiting = trio.lowlevel.ParkingLot()
        self.overflowed = False

    def reply(self, text: str) -> None:
        if self._room():
            self._replies.append(text)

    def offer(self, seq: int, frame: str | None) -> None:
        """A venue event (frame None: only "the venue is at seq", to be read from the table)."""
        if seq > self.last_seq and self._room():
            self._events.append((seq, frame))

    def _room(self) -> bool:
        """Whether one more frame fits; wakes the pump either way (it stops on overflow)."""
        self._waiting.unpark_all()
        if not self.overflowed and len(self._replies) + len(self._events) >= self._size:
            self.overflowed = True
        return not self.overflowed

    async def pump(self, send: Send) -> None:
        """Send until the connection ends; raise SlowConsumer once the queue has overflowed
        (after sending what it held)."""
        while True:
            if self._replies:
                await send(self._replies.popleft())
            elif self._events:
                await self._send_event(send, *self._events.popleft())
            elif self.overflowed:
                raise SlowConsumer
            else:
                await self._waiting.park()

    async def _send_event(self, send: Send, seq: int, frame: str | None) -> None:
        if seq <= self.last_seq:
            return
        if seq > self.last_seq + 1 or frame is None:
            await self._catch_up(send, seq if frame is None else seq - 1)
        if frame is not None and seq == self.last_seq + 1:
            await send(frame)
            self.last_seq = seq

    async def _catch_up(self, send: Send, upto: int) -> None:
        while self.last_seq < upto:
            after = self.last_seq
            events = await self.db.run(lambda conn: read_events(conn, self.venue_id, after, upto))
            if not events:
                return
            for ev in events:
                await send(encode(event(ev.seq, ev.name, ev.by, ev.at.isoformat(), ev.data)))
                self.last_seq = ev.seq
