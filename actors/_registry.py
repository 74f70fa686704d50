"""Addressing actors by key: spawn on first message, tell, ask, passivate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager

import trio

from ._behaviour import Factory
from ._errors import AskTimeout, MailboxFull
from ._mailbox import Envelope, Mailbox
from ._supervisor import CrashHook, RestartPolicy, Supervisor

__all__ = ["Registry"]


class Registry:
    """The actors of one owner (say, one venue), by key, and their supervisor.

    An actor exists while it has work: the first message to a key spawns it, and it
    passivates after `idle_timeout` seconds without one. Open it with `Registry.open`.
    """

    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor
        self._live: dict[Hashable, Mailbox] = {}

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        factory: Factory,
        *,
        mailbox_size: int = 16,
        idle_timeout: float = 60.0,
        policy: RestartPolicy = RestartPolicy(),
        on_crash: CrashHook | None = None,
        stop_timeout: float = 5.0,
    ) -> AsyncIterator[Registry]:
        """Run a registry for the duration of the block; every actor ends with it.

        `factory(key)` builds an actor's behaviour, on spawn and on every restart. Mailboxes
        hold `mailbox_size` messages (then senders wait). `on_crash(key, exc)` hears of every
        crash, and of every `stop()` that raised; it must not raise itself (that tears the
        registry down, like any bug). `stop()` gets `stop_timeout` seconds at shutdown.

        Raises:
          RestartBudgetExceeded: crashes outran `policy`; all actors were cancelled, and
            askers got `RegistryClosed`. Open a fresh registry to carry on.
          Whatever the block raised, unwrapped from the nursery's exception group when alone.

        Cancellation: cancelling the enclosing scope cancels every actor; nothing outlives it.
        """
        sole: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                supervisor = Supervisor(
                    nursery,
                    factory,
                    mailbox_size=mailbox_size,
                    policy=policy,
                    on_crash=on_crash,
                    idle_timeout=idle_timeout,
                    stop_timeout=stop_timeout,
                )
                try:
                    yield cls(supervisor)
                finally:
                    supervisor.close()
        except BaseExceptionGroup as group:
            if len(group.exceptions) > 1:
                raise
            sole = group.exceptions[0]
        # Raised outside the handler, so the exception keeps its own chain, not the group's.
        if sole is not None:
            raise sole
        if supervisor.escalation is not None:
            raise supervisor.escalation

    @property
    def live_count(self) -> int:
        """How many keys have an actor right now, counting one still passivating."""
        return len(self._live)

    async def tell(self, key: Hashable, message: object) -> None:
        """Queue `message` for `key`'s actor, spawning it if needed.

        Waits while the mailbox is full: that backpressure is what keeps memory bounded.

        Raises:
          RegistryClosed: the registry is shut or shutting down.
        """
        await self._deliver(key, Envelope(message))

    def tell_nowait(self, key: Hashable, message: object) -> None:
        """Like `tell`, but raise `MailboxFull` rather than wait for room.

        With `mailbox_size=0` that means: unless the actor is waiting for a message right now.
        """
        envelope = Envelope(message)
        mailbox = self._mailbox(key, refused=None)
        try:
            while not mailbox.put_nowait(envelope):
                mailbox = self._mailbox(key, refused=mailbox)
        except trio.WouldBlock:
            raise MailboxFull(key) from None

    async def ask(self, key: Hashable, message: object, *, timeout: float = 5.0) -> object:
        """Send `message` to `key`'s actor and return what its `receive` returned.

        Raises:
          ActorCrashed: `receive` raised on this message (at once, not at the timeout);
            the message is dropped and the actor restarts.
          AskTimeout: no reply within `timeout` seconds, counted from the call, so time spent
            waiting for mailbox room counts too. The message may still be handled later.
          RegistryClosed: the registry shut down before replying.
        """
        envelope = Envelope(message, asked=True)
        try:
            with trio.fail_after(timeout):
                await self._deliver(key, envelope)
                return await envelope.reply()
        except trio.TooSlowError:
            raise AskTimeout(key, timeout) from None

    async def stop(self, key: Hashable) -> None:
        """Passivate `key`'s actor now, returning once its `stop()` ran.

        It still handles what is already queued; later messages start a fresh incarnation.
        Not from that actor's own `receive()`: it would wait for itself.
        """
        mailbox = self._live.get(key)
        if mailbox is not None:
            mailbox.retire()
            await mailbox.stopped.wait()

    async def _deliver(self, key: Hashable, envelope: Envelope) -> None:
        mailbox = self._mailbox(key, refused=None)
        while not await mailbox.put(envelope):
            mailbox = self._mailbox(key, refused=mailbox)

    def _mailbox(self, key: Hashable, *, refused: Mailbox | None) -> Mailbox:
        """`key`'s mailbox, spawning an actor if there is none or the mapped one `refused`.

        A mailbox refuses once it retired (passivation won the race with this sender); its
        successor is spawned to start only after it stopped, so per-sender order holds.
        """
        if self._supervisor.closed:
            raise self._supervisor.closed_error()
        current = self._live.get(key)
        if current is not None and current is not refused:
            return current
        fresh = self._supervisor.spawn(key, after=current, forget=self._forget)
        self._live[key] = fresh
        return fresh

    def _forget(self, key: Hashable, mailbox: Mailbox) -> None:
        """Drop an ended actor, unless a successor already took its key."""
        if self._live.get(key) is mailbox:
            del self._live[key]
