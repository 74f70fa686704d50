"""What a user supplies per actor: three hooks that the runtime drives."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Protocol, TypeAlias

__all__ = ["Behaviour", "Factory"]


class Behaviour(Protocol):
    """One actor's state and logic.

    The runtime calls these from the actor's own task, one at a time, so an implementation
    needs no locks. A crash throws the object away and `start()`s a fresh one from the
    factory, because state caught half-way through a change cannot be trusted.
    """

    async def start(self) -> None:
        """(Re)build state, e.g. from the database; runs on spawn and after every crash.

        Raising counts as a crash: the message that was waiting stays queued for the next try.
        """

    async def receive(self, message: object) -> object:
        """Handle one message; the return value is the reply to an ask (ignored for a tell).

        Raising an `Exception` crashes the actor: an asker gets `ActorCrashed` and the message
        is dropped. `trio.Cancelled` and other `BaseException`s pass through untouched.
        """

    async def stop(self) -> None:
        """Let go of what `start()` took; may be a no-op.

        Runs once for every `start()` that returned: on passivation, after a crash, and at
        shutdown (shielded from cancellation, for at most the registry's `stop_timeout`).
        Raising is reported to `on_crash` and does not restart anything.
        """


Factory: TypeAlias = Callable[[Hashable], Behaviour]
"""Builds a fresh behaviour for a key; called on spawn and on every restart."""
