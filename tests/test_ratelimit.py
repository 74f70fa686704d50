"""The rate limiter contract, run against both limiters; then what is particular to each.

The in-memory limiter reads `trio.current_time()`, so its windows pass instantly under a
virtual clock. The Redis limiter reads Redis's own clock, so its tests use real time and a
short window.
"""

from __future__ import annotations

import functools
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Callable

import coredis
import pytest
import trio
from trio.testing import MockClock

from fynlo.errors import RateLimited, Unavailable
from fynlo.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter, open_rate_limiter


@dataclass(frozen=True)
class Case:
    kind: str
    open: Callable[[], AbstractAsyncContextManager[RateLimiter]]
    window_s: float


@pytest.fixture(params=["memory", "redis"])
def case(request: pytest.FixtureRequest) -> Case:
    if request.param == "memory":
        return Case("memory", functools.partial(open_rate_limiter, None), window_s=60.0)
    url, namespace = request.getfixturevalue("redis_url"), request.getfixturevalue("namespace")
    return Case("redis", functools.partial(open_rate_limiter, url, namespace), window_s=0.5)


@pytest.fixture
def clock(case: Case) -> MockClock | None:
    """Virtual time for the in-memory limiter; real time for Redis, whose clock it reads.

    Tests take this fixture only so that pytest-trio runs them on the clock it returns.
    """
    return MockClock(autojump_threshold=0) if case.kind == "memory" else None


async def test_under_the_limit_passes_and_one_more_is_refused(
    case: Case, clock: MockClock | None
) -> None:
    async with case.open() as limiter:
        for _ in range(3):
            await limiter.hit("login:ann", limit=3, window_s=case.window_s)
        with pytest.raises(RateLimited) as refused:
            await limiter.hit("login:ann", limit=3, window_s=case.window_s)
    retry_after = refused.value.details["retry_after"]
    assert isinstance(retry_after, int) and retry_after >= 1
    assert refused.value.to_dict()["code"] == "rate_limited"


async def test_keys_are_counted_apart(case: Case, clock: MockClock | None) -> None:
    async with case.open() as limiter:
        await limiter.hit("login:ann", limit=1, window_s=case.window_s)
        await limiter.hit("login:bob", limit=1, window_s=case.window_s)
        with pytest.raises(RateLimited):
            await limiter.hit("login:ann", limit=1, window_s=case.window_s)


async def test_the_window_moves_on(case: Case, clock: MockClock | None) -> None:
    async with case.open() as limiter:
        for _ in range(2):
            await limiter.hit("k", limit=2, window_s=case.window_s)
        with pytest.raises(RateLimited) as refused:
            await limiter.hit("k", limit=2, window_s=case.window_s)
        await trio.sleep(refused.value.details["retry_after"])  # as told: now one more fits
        await limiter.hit("k", limit=2, window_s=case.window_s)
        await trio.sleep(2 * case.window_s)  # two quiet windows: the whole limit again
        for _ in range(2):
            await limiter.hit("k", limit=2, window_s=case.window_s)


async def test_refused_hits_are_not_counted(case: Case, clock: MockClock | None) -> None:
    async with case.open() as limiter:
        for _ in range(2):
            await limiter.hit("k", limit=2, window_s=case.window_s)
        retry_afters = []
        for _ in range(5):
            with pytest.raises(RateLimited) as refused:
                await limiter.hit("k", limit=2, window_s=case.window_s)
            retry_afters.append(refused.value.details["retry_after"])
        assert retry_afters == sorted(retry_afters, reverse=True)  # knocking never extends it


# -- in memory -------------------------------------------------------------------------------


async def test_previous_window_decays_evenly(autojump_clock: MockClock) -> None:
    limiter = MemoryRateLimiter()
    for _ in range(10):
        await limiter.hit("k", limit=10, window_s=60)
    with pytest.raises(RateLimited) as refused:
        await limiter.hit("k", limit=10, window_s=60)
    # At 10 % into the next window, 90 % of the 10 earlier hits still count: 9 + 1 fits.
    assert refused.value.details["retry_after"] == 66
    await trio.sleep(65)
    with pytest.raises(RateLimited):
        await limiter.hit("k", limit=10, window_s=60)
    await trio.sleep(1)
    await limiter.hit("k", limit=10, window_s=60)


async def test_expired_keys_are_pruned(autojump_clock: MockClock) -> None:
    limiter = MemoryRateLimiter(sweep_every_s=1)
    for n in range(100):
        await limiter.hit(f"ip:{n}", limit=5, window_s=1)
    assert len(limiter) == 100
    await trio.sleep(2)
    await limiter.hit("ip:new", limit=5, window_s=1)
    assert len(limiter) == 1


# -- Redis -----------------------------------------------------------------------------------


async def test_two_redis_limiters_share_one_count(redis_url: str, namespace: str) -> None:
    async with open_rate_limiter(redis_url, namespace) as one, open_rate_limiter(
        redis_url, namespace
    ) as two, coredis.Redis.from_url(redis_url) as admin:
        await one.hit("login:ann", limit=2, window_s=30)
        await two.hit("login:ann", limit=2, window_s=30)
        with pytest.raises(RateLimited):
            await one.hit("login:ann", limit=2, window_s=30)
        keys = [key async for key in admin.scan_iter(match=f"{namespace}:ratelimit:*")]
        assert keys == [f"{namespace}:ratelimit:30000:login:ann".encode()]
        assert 0 < await admin.pttl(keys[0]) <= 60_000  # gone after two windows


async def test_redis_down_is_unavailable_to_the_redis_limiter_alone() -> None:
    async with coredis.Redis.from_url("redis://127.0.0.1:1/0", connect_timeout=1.0) as client:
        with trio.fail_after(5), pytest.raises(Unavailable):
            await RedisRateLimiter(client, namespace="unreachable").hit("k", limit=1, window_s=1)


async def test_while_redis_is_down_sign_in_is_still_limited_in_process() -> None:
    async with open_rate_limiter("redis://127.0.0.1:1/0", "unreachable") as limiter:
        with trio.fail_after(10):
            await limiter.hit("login:bob", limit=2, window_s=60)
            await limiter.hit("login:bob", limit=2, window_s=60)
            with pytest.raises(RateLimited):
                await limiter.hit("login:bob", limit=2, window_s=60)
