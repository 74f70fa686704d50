"""The runtime's exceptions, under one root so a caller can catch all of them in one clause.

* ActorError
  + ActorCrashed           receive() raised while handling your ask; the actor restarts
  + AskTimeout             no reply within the ask's timeout (enqueueing included)
  + MailboxFull            tell_nowait() found no room in the mailbox
  + RestartBudgetExceeded  more crashes than the RestartPolicy allows: the registry gave up
  + RegistryClosed         the registry is shut, or shutting, down

Each one that comes from something else (a crash, a spent budget) carries it as `__cause__`,
set by the constructor, so a traceback shows the real failure under the runtime's own words.
"""

from __future__ import annotations

from collections.abc import Hashable

__all__ = [
    "ActorCrashed",
    "ActorError",
    "AskTimeout",
    "MailboxFull",
    "RegistryClosed",
    "RestartBudgetExceeded",
]


class ActorError(Exception):
    """Root of every error the actor runtime raises."""


class ActorCrashed(ActorError):
    """The actor raised while handling the asked message.

    The asker hears at once rather than at its timeout. The message is dropped (it may have
    been half-applied; retrying is the caller's call) and the actor restarts from `start()`.
    """

    def __init__(self, key: Hashable, cause: Exception) -> None:
        super().__init__(f"actor {key!r} crashed handling the message: {cause!r}")
        self.key = key
        self.__cause__ = cause


class AskTimeout(ActorError):
    """No reply within the timeout; the message may still be handled later."""

    def __init__(self, key: Hashable, timeout: float) -> None:
        super().__init__(f"actor {key!r} did not reply within {timeout}s")
        self.key = key


class MailboxFull(ActorError):
    """`tell_nowait` found the mailbox full: back off, or use `tell` to wait for room."""

    def __init__(self, key: Hashable) -> None:
        super().__init__(f"mailbox of actor {key!r} is full")
        self.key = key


class RestartBudgetExceeded(ActorError):
    """Actors crashed faster than the policy allows, so the registry tore itself down.

    Crashes that frequent point at something shared (a database, a bad release), which
    restarting one actor again will not fix: the registry's owner decides what to do.
    """

    def __init__(self, intensity: int, period: float, cause: Exception) -> None:
        super().__init__(f"more than {intensity} restarts within {period}s")
        self.__cause__ = cause


class RegistryClosed(ActorError):
    """The registry is shut or shutting down, so the message was not (or will not be) handled.

    After an escalation the `RestartBudgetExceeded` is the `__cause__`.
    """

    def __init__(self, cause: RestartBudgetExceeded | None = None) -> None:
        super().__init__("the actor registry is closed")
        self.__cause__ = cause
