"""Running actors: one nursery for a registry's actors, restarts, and OTP-style escalation."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import trio

from ._behaviour import Behaviour, Factory
from ._errors import ActorCrashed, RegistryClosed, RestartBudgetExceeded
from ._mailbox import Mailbox

__all__ = ["CrashHook", "RestartPolicy", "Supervisor"]

CrashHook = Callable[[Hashable, Exception], None]
"""Told of every crash (sync, from the actor's task), e.g. to log it."""

Forget = Callable[[Hashable, Mailbox], None]
"""Called as an actor task ends, to drop its mailbox from the registry."""


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """OTP's restart intensity: more than `intensity` restarts within `period` seconds escalate.

    The budget is shared by all of a registry's actors: a few crashes are one actor's bad luck,
    a burst of them means something they share is broken and restarting will not fix it.
    """

    intensity: int = 3
    period: float = 5.0


class Supervisor:
    """Runs every actor of one registry as a task in one nursery, and restarts those that crash.

    Each actor task loops: build a behaviour with the factory, `start()` it, serve its mailbox
    until the mailbox is retired and drained, `stop()` it. An `Exception` from `start()` or
    `receive()` is a crash: it is reported, counted against the policy, and the loop goes
    round again with a fresh behaviour and the same mailbox, so queued messages survive.
    Past the budget the supervisor escalates: it records `escalation` and cancels the
    nursery, which ends every actor and (in `Registry.open`) the registry's owner's block.

    Cancellation: `trio.Cancelled` and every other `BaseException` pass straight through.
    A crash once shutdown began (a driver may turn cancellation into its own error) is
    reported but neither restarted nor counted, so a clean shutdown never escalates.
    """

    def __init__(
        self,
        nursery: trio.Nursery,
        factory: Factory,
        *,
        mailbox_size: int,
        policy: RestartPolicy,
        on_crash: CrashHook | None,
        idle_timeout: float,
        stop_timeout: float,
    ) -> None:
        self.escalation: RestartBudgetExceeded | None = None
        self._nursery = nursery
        self._factory = factory
        self._mailbox_size = mailbox_size
        self._policy = policy
        self._on_crash = on_crash
        self._idle_timeout = idle_timeout
        self._stop_timeout = stop_timeout
        # Only the newest `intensity + 1` restart times can decide an escalation.
        self._restarts: deque[float] = deque(maxlen=policy.intensity + 1)

    @property
    def closed(self) -> bool:
        """True once shutdown began: no actor may be spawned any more."""
        return self._nursery.cancel_scope.cancel_called

    def close(self) -> None:
        """Cancel every actor; each one fails whatever asks it still holds."""
        self._nursery.cancel_scope.cancel()

    def closed_error(self) -> RegistryClosed:
        """The error for a message that arrives at, or is stranded in, a closed registry."""
        return RegistryClosed(self.escalation)

    def spawn(self, key: Hashable, *, after: Mailbox | None, forget: Forget) -> Mailbox:
        """Start an actor task for `key` and return its new mailbox.

        The task starts its behaviour only once the incarnation owning `after` has stopped.
        """
        mailbox = Mailbox(self._mailbox_size)
        self._nursery.start_soon(self._run, key, mailbox, after, forget)
        return mailbox

    async def _run(
        self, key: Hashable, mailbox: Mailbox, after: Mailbox | None, forget: Forget
    ) -> None:
        """One actor task, from spawn to passivation, across any number of restarts."""
        try:
            if after is not None:
                await after.stopped.wait()
            while True:
                try:
                    await self._run_behaviour(key, mailbox)
                    return
                except Exception as exc:
                    if not self._restart(key, exc):
                        return
        finally:
            forget(key, mailbox)
            mailbox.abandon(self.closed_error)
            mailbox.stopped.set()

    async def _run_behaviour(self, key: Hashable, mailbox: Mailbox) -> None:
        """Serve `mailbox` with one fresh behaviour until it is retired and drained."""
        behaviour = self._factory(key)
        await behaviour.start()
        try:
            await self._serve(key, behaviour, mailbox)
        finally:
            await self._stop(key, behaviour)

    async def _serve(self, key: Hashable, behaviour: Behaviour, mailbox: Mailbox) -> None:
        """Handle envelopes one at a time, answering each asker: with the reply, or an error."""
        while (envelope := await mailbox.next(self._idle_timeout)) is not None:
            try:
                reply = await behaviour.receive(envelope.message)
            except Exception as exc:
                envelope.fail(ActorCrashed(key, exc))
                raise
            except BaseException:
                envelope.fail(self.closed_error())
                raise
            envelope.answer(reply)
            del envelope, reply  # an idle actor must not pin its last message and reply

    async def _stop(self, key: Hashable, behaviour: Behaviour) -> None:
        """Run `stop()` to the end even during shutdown, but for at most `stop_timeout`."""
        with trio.move_on_after(self._stop_timeout, shield=True):
            try:
                await behaviour.stop()
            except Exception as exc:
                self._report(key, exc)

    def _restart(self, key: Hashable, exc: Exception) -> bool:
        """Count a crash; True to restart, False once the budget is spent (or shutdown began)."""
        self._report(key, exc)
        if self.closed:
            return False
        now = trio.current_time()
        self._restarts.append(now)
        full = len(self._restarts) > self._policy.intensity
        if not full or self._restarts[0] <= now - self._policy.period:
            return True
        self.escalation = RestartBudgetExceeded(self._policy.intensity, self._policy.period, exc)
        self.close()
        return False

    def _report(self, key: Hashable, exc: Exception) -> None:
        if self._on_crash is not None:
            self._on_crash(key, exc)
