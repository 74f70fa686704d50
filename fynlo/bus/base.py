"""What both buses share: the interface, the gap marker, and local fan-out with bounded queues.

The bus is at-most-once by design. PostgreSQL holds every event with its venue `seq`, so a
subscriber that may have missed messages only needs to be told so (a `BusGap`); it then reads
what it missed from the events table. That is why nothing here ever blocks a publisher or
buffers without bound: losing a message is cheap as long as the loss is announced.
"""

from __future__ import annotations

from collections import deque
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import AsyncIterator, Iterable, Protocol

import trio

DEFAULT_QUEUE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class BusGap:
    """Messages may have been lost here: catch up from the database, then carry on.

    Yielded to a subscriber that fell so far behind that its queue overflowed, and to every
    subscriber once the Redis connection is back (and re-subscribed) after a loss.
    """


_GAP = BusGap()


class Subscription:
    """One subscriber's view of one topic: an async iterator of payloads and gaps, in order.

    The queue holds at most `queue_size` payloads plus one pending gap. Overflow is dropped
    and a gap takes its place, so a slow subscriber never holds up the publisher or the other
    subscribers. Iteration ends once the subscription is left or its bus closes (after what
    was already queued).
    """

    def __init__(self, topic: str, queue_size: int) -> None:
        self.topic = topic
        self._queue_size = queue_size
        self._items: deque[bytes | BusGap] = deque()
        self._waiting = trio.lowlevel.ParkingLot()
        self._closed = False

    def __aiter__(self) -> AsyncIterator[bytes | BusGap]:
        return self

    async def __anext__(self) -> bytes | BusGap:
        await trio.lowlevel.checkpoint()
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            await self._waiting.park()
        return self._items.popleft()

    def _push(self, payload: bytes) -> None:
        if len(self._items) >= self._queue_size:
            self._mark_gap()
        elif not self._closed:
            self._items.append(payload)
            self._waiting.unpark_all()

    def _mark_gap(self) -> None:
        # One gap stands for any run of losses: the catch-up it triggers covers them all.
        if not self._closed and not (self._items and self._items[-1] is _GAP):
            self._items.append(_GAP)
            self._waiting.unpark_all()

    def _close(self) -> None:
        self._closed = True
        self._waiting.unpark_all()


class EventBus(Protocol):
    """Fan-out of opaque payloads by topic, within one process or across instances."""

    async def publish(self, topic: str, payload: bytes) -> None:
        """Send `payload` to every current subscriber of `topic`, on every instance.

        Raises:
            Unavailable: the message could not be handed to the bus (Redis unreachable).
        """
        ...

    def subscribe(self, topic: str) -> AbstractAsyncContextManager[Subscription]:
        """Receive what is published to `topic` from now on, until the block is left."""
        ...

    @property
    def healthy(self) -> bool:
        """Whether messages are flowing right now (for /healthz)."""
        ...


class Fanout:
    """The local topic → subscriptions map both buses deliver through."""

    def __init__(self, queue_size: int) -> None:
        self._queue_size = queue_size
        self._topics: dict[str, set[Subscription]] = {}

    def join(self, topic: str) -> tuple[Subscription, bool]:
        """Add a subscription; also say whether it is the topic's first one here."""
        sub = Subscription(topic, self._queue_size)
        subs = self._topics.setdefault(topic, set())
        subs.add(sub)
        return sub, len(subs) == 1

    def leave(self, sub: Subscription) -> bool:
        """Close and remove a subscription; say whether it was the topic's last one here."""
        sub._close()
        subs = self._topics.get(sub.topic)
        if subs is None or sub not in subs:
            return False  # already gone: the bus closed first
        subs.discard(sub)
        if subs:
            return False
        del self._topics[sub.topic]
        return True

    def deliver(self, topic: str, payload: bytes) -> None:
        for sub in self._topics.get(topic, ()):
            sub._push(payload)

    def mark_gap(self, topics: Iterable[str]) -> None:
        for topic in topics:
            for sub in self._topics.get(topic, ()):
                sub._mark_gap()

    def topics(self) -> list[str]:
        return list(self._topics)

    def count(self, topic: str) -> int:
        return len(self._topics.get(topic, ()))

    def close(self) -> None:
        """End every subscription's iteration: the bus is going away."""
        for subs in self._topics.values():
            for sub in subs:
                sub._close()
        self._topics.clear()
