"""Argon2id hashing for passwords and PINs.

Hashing is deliberately slow and CPU-bound (tens of milliseconds), so Trio code never calls
it on the event loop: `verify_async` runs it in a worker thread, at most a few
at a time, so a burst of logins cannot take every CPU away from the venues' commands. Code
already running in a worker thread (inside `Database.run`) calls the sync functions.
"""

from __future__ import annotations

import functools
import secrets
from typing import NamedTuple

import trio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()  # argon2id with the library's RFC 9106 "low memory" profile
# Each check holds the profile's 64 MiB while it runs: one at a time keeps a shift signing in
# at once under the server's 200 MB (the benchmark measured 209 MB with two), at ~20 checks a second.
_MAX_CONCURRENT = 1
_limiter: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar("fynlo_argon2_limiter")


class Verified(NamedTuple):
    """The outcome of a check; `rehash` is a fresh hash to store when the parameters changed."""

    ok: bool
    rehash: str | None = None


def hash_secret(secret: str) -> str:
    """Hash a password or PIN for storage."""
    return _HASHER.hash(secret)


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_hex(16))


def verify_secret(hashed: str | None, secret: str) -> Verified:
    """Check `secret` against `hashed`, doing the same work when there is no hash at all.

    `hashed=None` (an unknown email, a staff member without a password) is checked against a
    dummy hash, so "no such user" costs as long as "wrong password" and timing reveals neither.
    """
    if hashed is None:
        _safe_verify(_dummy_hash(), secret)
        return Verified(False)
    if not _safe_verify(hashed, secret):
        return Verified(False)
    rehash = _HASHER.hash(secret) if _HASHER.check_needs_rehash(hashed) else None
    return Verified(True, rehash)


def _safe_verify(hashed: str, secret: str) -> bool:
    try:
        return _HASHER.verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False


def _cpu_limiter() -> trio.CapacityLimiter:
    try:
        return _limiter.get()
    except LookupError:
        limiter = trio.CapacityLimiter(_MAX_CONCURRENT)
        _limiter.set(limiter)
        return limiter


async def verify_async(hashed: str | None, secret: str) -> Verified:
    """`verify_secret` in a worker thread.

    Cancellation: delivered once the check finishes (a running hash cannot be interrupted).
    """
    return await trio.to_thread.run_sync(verify_secret, hashed, secret, limiter=_cpu_limiter())
