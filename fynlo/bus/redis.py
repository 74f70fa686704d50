"""The cross-instance bus: Redis pub/sub through coredis, which runs on Trio natively.

Each instance publishes to `{namespace}:{topic}` and reads every topic its local subscribers
want over one shared pub/sub connection, kept up by one background task (the reader) that fans
each message out locally exactly as MemoryBus does. Redis pub/sub keeps nothing for a
subscriber that is not connected, so while the connection is down messages are lost. The
reader therefore reconnects with backoff, subscribes every channel again, and only then hands
every subscription a BusGap: a subscriber that catches up from the database at that point
misses nothing, because whatever is published afterwards reaches it live.

Every connection attempt gets a client (a coredis connection pool) of its own: coredis 6.9
does not give the pool slot back when a leased pub/sub connection dies, so one long-lived
pool would run dry after `max_connections` reconnects.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

import coredis
import trio
from coredis.exceptions import RedisError
from coredis.patterns.pubsub import PubSub
from coredis.retry import NoRetryPolicy

from fynlo.errors import Unavailable

from .base import DEFAULT_QUEUE_SIZE, Fanout, Subscription

log = logging.getLogger("fynlo.bus")

_REDIS_ERRORS = (RedisError, OSError)  # OSError covers TimeoutError and refused connections
_CONNECT_TIMEOUT_S = 1.0
_REPLY_TIMEOUT_S = 2.0
_KEEPALIVE_S = 5  # an idle pub/sub connection is PINGed this often, so a dead one is noticed
_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 2.0


def _client(url: str, namespace: str) -> coredis.Redis[bytes]:
    # The name lets operators (and the tests) find this bus's connections in CLIENT LIST.
    return coredis.Redis.from_url(
        url,
        client_name=f"{namespace}-bus",
        connect_timeout=_CONNECT_TIMEOUT_S,
        stream_timeout=_REPLY_TIMEOUT_S,
    )


def _innermost(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


class RedisBus:
    """Publish through Redis to every instance; receive through one shared subscriber task.

    Use `RedisBus.open(url)`, which owns the reader task.
    """

    def __init__(
        self,
        url: str,
        client: coredis.Redis[bytes],
        *,
        namespace: str,
        queue_size: int,
        publish_timeout: float,
    ) -> None:
        self._url = url
        self._client = client
        self._namespace = namespace
        self._publish_timeout = publish_timeout
        self._fanout = Fanout(queue_size)
        self._pubsub: PubSub[bytes] | None = None  # the live connection, while the reader has one
        self._joining: dict[str, trio.Event] = {}  # topics whose SUBSCRIBE awaits its ack
        self._healthy = False

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        url: str,
        *,
        namespace: str = "fynlo",
        queue_size: int = DEFAULT_QUEUE_SIZE,
        publish_timeout: float = 1.0,
    ) -> AsyncIterator[RedisBus]:
        """Yield a bus whose reader runs until the block is left.

        It waits for the first connection attempt only, so with Redis up the bus is healthy
        on entry, and with Redis down the server still starts (unhealthy) while the reader
        keeps trying. On the way out every subscription's iteration ends.
        """
        async with _client(url, namespace) as client, trio.open_nursery() as nursery:
            bus = cls(
                url,
                client,
                namespace=namespace,
                queue_size=queue_size,
                publish_timeout=publish_timeout,
            )
            await nursery.start(bus._read_forever)
            try:
                yield bus
            finally:
                nursery.cancel_scope.cancel()
                bus._fanout.close()

    @property
    def healthy(self) -> bool:
        """True while the shared pub/sub connection is up and subscribed."""
        return self._healthy

    async def publish(self, topic: str, payload: bytes) -> None:
        """Send `payload` to every instance's subscribers of `topic`.

        Raises:
            Unavailable: Redis did not take the message within `publish_timeout` seconds.
        """
        try:
            with trio.fail_after(self._publish_timeout):
                await self._client.publish(self._channel(topic), payload)
        except (*_REDIS_ERRORS, trio.TooSlowError) as exc:
            raise Unavailable("the event bus (Redis) is not reachable", topic=topic) from exc

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        """Receive `topic` from every instance; entered once Redis has confirmed the channel.

        If the confirmation cannot be had (Redis down), the subscription still opens and its
        first item will be a BusGap.
        """
        sub, first = self._fanout.join(topic)
        try:
            if first:
                await self._subscribe_channel(topic)
            elif (joining := self._joining.get(topic)) is not None:
                await joining.wait()
            yield sub
        finally:
            if self._fanout.leave(sub):
                await self._unsubscribe_channel(topic)

    def subscribers(self, topic: str) -> int:
        """How many local subscriptions `topic` has (diagnostics; 0 once all have left)."""
        return self._fanout.count(topic)

    def _channel(self, topic: str) -> str:
        return f"{self._namespace}:{topic}"

    async def _subscribe_channel(self, topic: str) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            return  # the reader subscribes it on connecting, then announces a gap
        self._joining[topic] = done = trio.Event()
        try:
            await pubsub.subscribe(self._channel(topic))
        except _REDIS_ERRORS:
            self._fanout.mark_gap([topic])  # unconfirmed: messages may be missed, so say so
        finally:
            del self._joining[topic]
            done.set()

    async def _unsubscribe_channel(self, topic: str) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            return  # the next connection subscribes only the topics still wanted
        # This runs on the way out of a subscription, often under cancellation; coredis
        # bounds its wait for the acknowledgement (0.1 s).
        with trio.CancelScope(shield=True):
            try:
                await pubsub.unsubscribe(self._channel(topic))
            except _REDIS_ERRORS:
                pass  # the connection is going, and the next one will not subscribe it

    async def _read_forever(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Keep the shared pub/sub connection up for as long as the bus is open.

        Reports started after the first attempt, successful or not.
        """
        delay = _BACKOFF_FIRST_S
        starting = True
        while True:
            try:
                async with self._connect() as pubsub:
                    await self._resubscribe(pubsub)
                    delay = _BACKOFF_FIRST_S
                    if starting:
                        starting = False
                        task_status.started()
                    else:
                        log.info("event bus back on Redis; subscribers told to catch up")
                    await self._pump(pubsub)
            except* _REDIS_ERRORS as lost:
                # Say it once per outage, not at every attempt while Redis stays down.
                level = logging.WARNING if delay == _BACKOFF_FIRST_S else logging.DEBUG
                log.log(level, "event bus lost Redis (%s); retrying", _innermost(lost))
            except* Exception:
                log.exception("event bus reader failed; retrying")
            finally:
                self._pubsub = None
                self._healthy = False
            if starting:
                starting = False
                task_status.started()
            await trio.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX_S)

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[PubSub[bytes]]:
        # NoRetryPolicy: coredis would otherwise reconnect by itself, and we could not tell
        # subscribers that messages were lost meanwhile.
        async with _client(self._url, self._namespace) as client, client.pubsub(
            ignore_subscribe_messages=True,
            retry_policy=NoRetryPolicy(),
            max_idle_seconds=_KEEPALIVE_S,
        ) as pubsub:
            yield pubsub

    async def _resubscribe(self, pubsub: PubSub[bytes]) -> None:
        self._pubsub = pubsub  # from here on, a topic joined meanwhile subscribes itself
        topics = self._fanout.topics()
        if topics:
            await pubsub.subscribe(*(self._channel(topic) for topic in topics))
        self._healthy = True
        # Before any message of the new connection is delivered: catching up now misses nothing.
        self._fanout.mark_gap(topics)

    async def _pump(self, pubsub: PubSub[bytes]) -> None:
        prefix = len(self._namespace) + 1
        while True:
            message = await pubsub.get_message()
            # (Un)subscribe acknowledgements are filtered out and come back as None.
            if message is None or message["type"] != "message":
                continue
            channel, data = message["channel"], message["data"]
            if isinstance(channel, bytes) and isinstance(data, bytes):  # always: no decoding
                self._fanout.deliver(channel.decode()[prefix:], data)
