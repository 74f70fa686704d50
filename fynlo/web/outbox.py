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

Whatever is waiting when the pump wakes goes out in one call of `send` (up to `BATCH` frames):
a write per batch rather than per frame is most of what fan-out costs (fynlo/web/frames.py).
While the pump is parked with nothing queued, a reply, or the events of one bus message that
follow on from the last seq sent, are written at once by whoever hands them over (the
command's task, the hub), in one write, when the writer can do that without waiting
(`Writer.send_now`): an `order.send`'s seven events to fifty sockets then cost fifty writes,
not three hundred and fifty, nor fifty task wake-ups as well, and a reply does not wait for
the pump's turn.
What the socket did not take at once the pump sends next (`Writer.owing`).
"""

from __future__ import annotations

from collections import deque
from typing import Awaitable, Callable, Protocol, Sequence

import trio

from fynlo.db import Database
from fynlo.events import frame_of, read_events


class Writer(Protocol):
    """A socket's way out (fynlo/web/frames.py: `FrameWriter`)."""

    async def send(self, frames: Sequence[str]) -> None:
        """Send `frames` in order, after anything owed."""

    def send_now(self, frames: Sequence[str]) -> bool:
        """Write `frames` without waiting, or begin to (then `owing`); False: not now."""

    @property
    def owing(self) -> bool:
        """A frame was begun by `send_now`: its rest goes out at the next `send`."""

# At most this many frames in one write (a replay's page is written in slices of it).
BATCH = 64


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
        self._writer: Writer | None = None
        self._parked = False  # the pump waits, nothing queued, and no one has woken it
        self.overflowed = False

    def reply(self, text: str) -> None:
        if not self._sent_now((text,)) and self._room():
            self._replies.append(text)

    def offer(self, seq: int, frame: str | None) -> None:
        """A venue event (frame None: only "the venue is at seq", to be read from the table)."""
        self.offer_run([(seq, frame)])

    def offer_run(self, events: Sequence[tuple[int, str | None]]) -> None:
        """Venue events of consecutive seqs, in order (one bus message's). When they follow on
        from the last seq sent and the pump is parked, they go out in one write."""
        if events[-1][0] <= self.last_seq:
            return
        if events[0][0] == self.last_seq + 1 and self._parked:
            frames = [frame for _, frame in events if frame is not None]
            if len(frames) == len(events) and self._sent_now(frames):
                self.last_seq = events[-1][0]
                return
        for seq, frame in events:
            if seq <= self.last_seq:
                continue
            if not self._room():
                return
            self._events.append((seq, frame))

    def _sent_now(self, frames: Sequence[str]) -> bool:
        """Written (or begun) at once by the caller, since the pump is parked with nothing
        queued and the writer could write without waiting; the pump wakes for what is owed."""
        if not self._parked:
            return False
        assert self._writer is not None
        if not self._writer.send_now(frames):
            return False
        if self._writer.owing:
            self._wake()
        return True

    def _wake(self) -> None:
        self._parked = False
        self._waiting.unpark_all()

    def _room(self) -> bool:
        """Whether one more frame fits; wakes the pump either way (it stops on overflow)."""
        self._wake()
        if not self.overflowed and len(self._replies) + len(self._events) >= self._size:
            self.overflowed = True
        return not self.overflowed

    async def pump(self, writer: Writer) -> None:
        """Send until the connection ends; raise SlowConsumer once the queue has overflowed
        (after sending what it held)."""
        self._writer = writer
        send = writer.send
        while True:
            batch = self._ready()
            if batch or writer.owing:
                await send(batch)
            elif self._events:  # the next event needs the table first
                seq, frame = self._events.popleft()
                await self._catch_up(send, seq if frame is None else seq - 1)
                if frame is not None and seq == self.last_seq + 1:
                    await send([frame])
                    self.last_seq = seq
            elif self.overflowed:
                raise SlowConsumer
            else:
                self._parked = True
                try:
                    await self._waiting.park()
                finally:
                    self._parked = False

    def _ready(self) -> list[str]:
        """The replies waiting, then the events that follow on from the last seq sent, up to
        the first that needs a read from the table; they count as sent from here on."""
        batch = []
        while self._replies and len(batch) < BATCH:
            batch.append(self._replies.popleft())
        while self._events and len(batch) < BATCH:
            seq, frame = self._events[0]
            if seq <= self.last_seq:
                self._events.popleft()
            elif frame is None or seq > self.last_seq + 1:
                break
            else:
                self._events.popleft()
                batch.append(frame)
                self.last_seq = seq
        return batch

    async def _catch_up(self, send: Callable[[Sequence[str]], Awaitable[None]], upto: int) -> None:
        while self.last_seq < upto:
            after = self.last_seq
            events = await self.db.run(lambda conn: read_events(conn, self.venue_id, after, upto))
            if not events:
                return
            for start in range(0, len(events), BATCH):
                page = events[start:start + BATCH]
                await send([frame_of(ev) for ev in page])
                self.last_seq = page[-1].seq
