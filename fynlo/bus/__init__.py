"""The event bus: committed events reach subscribers on every instance.

Redis pub/sub across instances when a Redis URL is configured, an in-process bus otherwise.
Delivery is at-most-once; a possible loss is announced with a `BusGap`, after which the
subscriber catches up from the events table (see `base.py`).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from .base import BusGap as BusGap, EventBus as EventBus, Subscription as Subscription
from .memory import MemoryBus as MemoryBus
from .redis import RedisBus as RedisBus

__all__ = ["BusGap", "EventBus", "MemoryBus", "RedisBus", "Subscription", "open_bus"]


@asynccontextmanager
async def open_bus(redis_url: str | None, namespace: str = "fynlo") -> AsyncIterator[EventBus]:
    """Yield the Redis bus when `redis_url` is given, else the in-process one."""
    if redis_url:
        async with RedisBus.open(redis_url, namespace=namespace) as bus:
            yield bus
    else:
        async with MemoryBus.open() as memory:
            yield memory
