"""The in-process bus: what a single instance uses when no Redis is configured."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

import trio

from .base import DEFAULT_QUEUE_SIZE, Fanout, Subscription


class MemoryBus:
    """Fan-out to the subscriptions of this process; it cannot fail, so it is always healthy."""

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._fanout = Fanout(queue_size)

    @classmethod
    @asynccontextmanager
    async def open(cls, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> AsyncIterator[MemoryBus]:
        """Yield a bus; on the way out every subscription's iteration ends."""
        bus = cls(queue_size=queue_size)
        try:
            yield bus
        finally:
            bus._fanout.close()

    @property
    def healthy(self) -> bool:
        return True

    async def publish(self, topic: str, payload: bytes) -> None:
        """Queue `payload` for every subscriber of `topic`; never waits for them."""
        await trio.lowlevel.checkpoint()
        self._fanout.deliver(topic, payload)

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        sub, _ = self._fanout.join(topic)
        try:
            yield sub
        finally:
            self._fanout.leave(sub)

    def subscribers(self, topic: str) -> int:
        """How many local subscriptions `topic` has (diagnostics; 0 once all have left)."""
        return self._fanout.count(topic)
