"""Rate limits: a sliding-window counter (the two-window approximation), in memory or in Redis.

Each key keeps two counts: hits in the current fixed window and in the one before. A hit is
let through while `prev * (1 - elapsed / window) + curr` stays below the limit, i.e. the
previous window's hits are taken as spread evenly over it. This removes the burst a plain
fixed window allows across its edge (twice the limit within a moment) at O(1) memory per
key, where an exact log would keep the time of every hit. The price: a key is entirely clear
only after two quiet windows (with `limit=1`, `retry_after` can approach two windows).

Rejected hits are not counted, so a client that keeps knocking gets in again as soon as its
earlier hits have aged out. The Redis limiter reads Redis's clock, so every instance agrees
on the windows; a key is counted per `(key, window_s)`.
"""

from __future__ import annotations

import logging

import math
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Protocol

import coredis
import trio
from coredis.exceptions import RedisError

from fynlo.errors import RateLimited, Unavailable


log = logging.getLogger("fynlo.ratelimit")

class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int, window_s: float) -> None:
        """Count one hit on `key`, allowing `limit` hits per sliding `window_s` seconds.

        Raises:
            RateLimited: over the limit; `retry_after` (whole seconds, >= 1) says when
                one more hit would pass. The rejected hit is not counted.
            Unavailable: the shared counter (Redis) cannot be reached.
        """
        ...


def _check(limit: int, window_s: float) -> None:
    if limit < 1 or window_s <= 0:
        raise ValueError(f"a rate limit needs limit >= 1 and window_s > 0, got {limit}, {window_s}")


def _rejected(wait_s: float) -> RateLimited:
    retry_after = max(1, math.ceil(wait_s))
    return RateLimited(f"too many requests; try again in {retry_after} s", retry_after=retry_after)


def _wait_s(prev: int, curr: int, elapsed: float, limit: int, window: float) -> float:
    """How long until one more hit fits (0 if it fits now). The Lua script below mirrors this."""
    if prev * (1 - elapsed / window) + curr + 1 <= limit:
        return 0.0
    if curr >= limit:
        # Only after this window ends, once `curr` (then the previous count) has decayed enough.
        return (window - elapsed) + window * (1 - (limit - 1) / curr)
    return window * (1 - (limit - 1 - curr) / prev) - elapsed


@dataclass(slots=True)
class _Counts:
    index: int  # which fixed window `curr` counts
    curr: int
    prev: int


class MemoryRateLimiter:
    """Counts in this process (one instance); keys idle for two windows are pruned."""

    def __init__(self, *, sweep_every_s: float = 60.0) -> None:
        self._counts: dict[tuple[str, float], _Counts] = {}
        self._sweep_every_s = sweep_every_s
        self._next_sweep = -math.inf

    def __len__(self) -> int:
        """How many keys are tracked (stays bounded: expired ones are pruned)."""
        return len(self._counts)

    async def hit(self, key: str, *, limit: int, window_s: float) -> None:
        _check(limit, window_s)
        await trio.lowlevel.checkpoint()
        now = trio.current_time()
        self._sweep(now)
        index = math.floor(now / window_s)
        elapsed = now - index * window_s
        counts = self._counts.get((key, window_s))
        prev, curr = 0, 0
        if counts is not None and counts.index == index:
            prev, curr = counts.prev, counts.curr
        elif counts is not None and counts.index == index - 1:
            prev = counts.curr
        wait = _wait_s(prev, curr, elapsed, limit, window_s)
        if wait > 0:
            raise _rejected(wait)
        self._counts[(key, window_s)] = _Counts(index, curr + 1, prev)

    def _sweep(self, now: float) -> None:
        # A key whose latest hit is two windows old counts nothing any more.
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._sweep_every_s
        expired = [
            slot
            for slot, counts in self._counts.items()
            if (counts.index + 2) * slot[1] <= now
        ]
        for slot in expired:
            del self._counts[slot]


# KEYS[1]: the key's hash {i: window index, c: its count, p: the previous window's count}.
# ARGV: limit, window in ms. Returns 0 when the hit is counted, else ms until one would fit.
_HIT_LUA = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local index = math.floor(now / window)
local elapsed = now - index * window
local state = redis.call('HMGET', KEYS[1], 'i', 'c', 'p')
local seen = tonumber(state[1])
local prev, curr = 0, 0
if seen == index then
  curr, prev = tonumber(state[2]), tonumber(state[3])
elseif seen == index - 1 then
  prev = tonumber(state[2])
end
if prev * (1 - elapsed / window) + curr + 1 <= limit then
  redis.call('HSET', KEYS[1], 'i', index, 'c', curr + 1, 'p', prev)
  redis.call('PEXPIREAT', KEYS[1], (index + 2) * window)
  return 0
end
local wait
if curr >= limit then
  wait = (window - elapsed) + window * (1 - (limit - 1) / curr)
else
  wait = window * (1 - (limit - 1 - curr) / prev) - elapsed
end
return math.max(1, math.ceil(wait))
"""


class RedisRateLimiter:
    """Counts shared by every instance: one Lua script per hit, so the check and the count
    are atomic. Keys live under `{namespace}:ratelimit:` and expire after two windows."""

    def __init__(
        self, client: coredis.Redis[bytes], *, namespace: str, timeout_s: float = 1.0
    ) -> None:
        self._script = client.register_script(_HIT_LUA)
        self._prefix = f"{namespace}:ratelimit"
        self._timeout_s = timeout_s

    async def hit(self, key: str, *, limit: int, window_s: float) -> None:
        _check(limit, window_s)
        window_ms = max(1, round(window_s * 1000))
        try:
            with trio.fail_after(self._timeout_s):
                wait_ms: int = await self._script(
                    keys=[f"{self._prefix}:{window_ms}:{key}"], args=[limit, window_ms]
                )
        except (RedisError, OSError, trio.TooSlowError) as exc:
            raise Unavailable("the rate limiter (Redis) is not reachable") from exc
        if wait_ms:
            raise _rejected(wait_ms / 1000)


class FallbackRateLimiter:
    """Redis's shared counts while Redis answers, this process's own counts while it does not.

    Sign-in must keep working when Redis drops on a Friday night; a per-process limit still
    stops guessing (several instances each allow the limit, which is the price of staying up).
    """

    def __init__(self, primary: RateLimiter, fallback: RateLimiter) -> None:
        self._primary = primary
        self._fallback = fallback

    async def hit(self, key: str, *, limit: int, window_s: float) -> None:
        try:
            await self._primary.hit(key, limit=limit, window_s=window_s)
        except Unavailable:
            log.warning("rate limiter: Redis unavailable, counting in this process")
            await self._fallback.hit(key, limit=limit, window_s=window_s)


@asynccontextmanager
async def open_rate_limiter(
    redis_url: str | None, namespace: str = "fynlo"
) -> AsyncIterator[RateLimiter]:
    """Yield the Redis limiter (counts shared by all instances, falling back to this process's
    own while Redis is down) when `redis_url` is given, else one in memory."""
    if not redis_url:
        yield MemoryRateLimiter()
        return
    async with coredis.Redis.from_url(redis_url, connect_timeout=1.0, stream_timeout=2.0) as client:
        yield FallbackRateLimiter(RedisRateLimiter(client, namespace=namespace), MemoryRateLimiter())
