"""The event bus contract, run against both buses; then what only the Redis bus must survive.

The Redis tests use the real server from conftest and cut this bus's own connections with
CLIENT KILL (found by client name), never the server or anyone else's connections.
"""

from __future__ import annotations

import functools
from contextlib import AbstractAsyncContextManager
from typing import AsyncIterator, Protocol

import coredis

from tests.support import kill_bus_connections as kill
import pytest
import trio
from coredis import PureToken

from fynlo.bus import BusGap, MemoryBus, RedisBus, Subscription, open_bus
from fynlo.errors import Unavailable


class OpenBus(Protocol):
    """MemoryBus.open, or RedisBus.open with the URL and namespace filled in."""

    def __call__(
        self, *, queue_size: int = ...
    ) -> AbstractAsyncContextManager[MemoryBus | RedisBus]: ...


UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused


@pytest.fixture(params=["memory", "redis"])
def open_test_bus(request: pytest.FixtureRequest) -> OpenBus:
    """Opens a bus of the kind under test (Redis ones in this test's namespace)."""
    if request.param == "memory":
        return MemoryBus.open
    url, namespace = request.getfixturevalue("redis_url"), request.getfixturevalue("namespace")
    return functools.partial(RedisBus.open, url, namespace=namespace)


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[coredis.Redis[bytes]]:
    """A separate connection, as an operator's redis-cli would be."""
    async with coredis.Redis.from_url(redis_url) as client:
        yield client


async def take(sub: Subscription, n: int) -> list[bytes | BusGap]:
    with trio.fail_after(5):
        return [await anext(sub) for _ in range(n)]


# -- the contract, both buses ---------------------------------------------------------------


async def test_publish_reaches_every_subscriber_of_the_topic_in_order(
    open_test_bus: OpenBus,
) -> None:
    sent = [b"%d" % i for i in range(100)]
    async with open_test_bus() as bus, bus.subscribe("a") as one, bus.subscribe("a") as two:
        async with bus.subscribe("b") as other:
            for payload in sent:
                await bus.publish("a", payload)
            await bus.publish("b", b"end")
            assert await take(one, 100) == sent
            assert await take(two, 100) == sent
            # "end" was published last, so anything of topic a would have come before it.
            assert await take(other, 1) == [b"end"]


async def test_leaving_stops_delivery_and_forgets_the_topic(open_test_bus: OpenBus) -> None:
    async with open_test_bus() as bus:
        async with bus.subscribe("a") as stays:
            async with bus.subscribe("a") as leaves:
                assert bus.subscribers("a") == 2
            assert bus.subscribers("a") == 1
            await bus.publish("a", b"1")
            assert await take(stays, 1) == [b"1"]
            assert [item async for item in leaves] == []  # ended, nothing delivered
        assert bus.subscribers("a") == 0
        async with bus.subscribe("a") as again:
            await bus.publish("a", b"2")
            assert await take(again, 1) == [b"2"]
        assert bus.subscribers("a") == 0


async def test_slow_subscriber_gets_a_gap_and_holds_nobody_up(open_test_bus: OpenBus) -> None:
    sent = [b"%d" % i for i in range(10)]
    async with open_test_bus(queue_size=4) as bus, bus.subscribe("a") as slow:
        async with bus.subscribe("a") as fast:
            with trio.fail_after(5):
                for payload in sent:
                    await bus.publish("a", payload)  # never waits for `slow`
                    assert await anext(fast) == payload
            # Four queued, then one gap for the six lost; then live delivery again.
            assert await take(slow, 5) == [*sent[:4], BusGap()]
            await bus.publish("a", b"late")
            assert await take(slow, 1) == [b"late"]
            assert await take(fast, 1) == [b"late"]


async def test_closing_the_bus_ends_iteration(open_test_bus: OpenBus) -> None:
    received: list[bytes | BusGap] = []
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery, open_test_bus() as bus:

            async def consume(task_status: trio.TaskStatus[None]) -> None:
                async with bus.subscribe("a") as sub:
                    task_status.started()
                    async for item in sub:
                        received.append(item)

            await nursery.start(consume)
            await bus.publish("a", b"1")
            while not received:
                await trio.sleep(0.01)
        # The nursery could only close because the consumer's loop ended with the bus.
    assert received == [b"1"]


async def test_open_bus_uses_redis_only_when_given_a_url(redis_url: str, namespace: str) -> None:
    async with open_bus(None) as memory:
        assert isinstance(memory, MemoryBus) and memory.healthy
    async with open_bus(redis_url, namespace) as shared:
        assert isinstance(shared, RedisBus) and shared.healthy


# -- Redis only ------------------------------------------------------------------------------


async def test_two_instances_see_each_others_publishes(redis_url: str, namespace: str) -> None:
    async with RedisBus.open(redis_url, namespace=namespace) as one, RedisBus.open(
        redis_url, namespace=namespace
    ) as two, RedisBus.open(redis_url, namespace=f"{namespace}-other") as elsewhere:
        async with one.subscribe("a") as on_one, two.subscribe("a") as on_two:
            async with elsewhere.subscribe("a") as on_elsewhere:
                await one.publish("a", b"from one")
                await two.publish("a", b"from two")
                await elsewhere.publish("a", b"own")
                assert await take(on_one, 2) == [b"from one", b"from two"]
                assert await take(on_two, 2) == [b"from one", b"from two"]
                assert await take(on_elsewhere, 1) == [b"own"]  # namespaces never meet


async def test_one_redis_channel_per_topic_and_none_after_leaving(
    redis_url: str, namespace: str, admin: coredis.Redis[bytes]
) -> None:
    channel = f"{namespace}:a".encode()
    async with RedisBus.open(redis_url, namespace=namespace) as bus:
        async with bus.subscribe("a"), bus.subscribe("a"):
            assert await admin.pubsub_numsub(channel) == {channel: 1}  # one shared connection
        assert await admin.pubsub_numsub(channel) == {channel: 0}


async def test_redis_drop_gives_a_gap_then_live_messages(
    redis_url: str, namespace: str, admin: coredis.Redis[bytes]
) -> None:
    async with RedisBus.open(redis_url, namespace=namespace) as bus, bus.subscribe("a") as sub:
        await bus.publish("a", b"before")
        assert await take(sub, 1) == [b"before"]

        assert await kill(admin, namespace, PureToken.PUBSUB) == 1
        await kill(admin, namespace, PureToken.NORMAL)
        with trio.fail_after(2):
            while bus.healthy:
                await trio.sleep(0.001)
        with trio.fail_after(3):  # fails fast or goes through a new connection; never hangs
            try:
                await bus.publish("a", b"during")
            except Unavailable:
                pass

        first = await take(sub, 1)
        assert first == [BusGap()]
        assert bus.healthy
        await bus.publish("a", b"after")
        rest = await take(sub, 1)
        if rest == [b"during"]:  # published after the reader was back: delivered, after the gap
            rest = await take(sub, 1)
        assert rest == [b"after"]


async def test_redis_down_publish_is_unavailable_and_the_bus_unhealthy() -> None:
    with trio.fail_after(5):
        async with RedisBus.open(UNREACHABLE, namespace="unreachable") as bus:
            assert not bus.healthy
            with pytest.raises(Unavailable):
                await bus.publish("a", b"lost")
            async with bus.subscribe("a"):  # still opens; it would hear a gap on recovery
                assert bus.subscribers("a") == 1
