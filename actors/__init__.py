"""A small actor runtime on Trio: keyed actors with bounded mailboxes, supervised restarts,
passivation when idle, tell and ask. It knows nothing of its users' domain.

    async with Registry.open(factory, idle_timeout=60.0) as registry:
        await registry.tell(key, message)
        reply = await registry.ask(key, message, timeout=5.0)
"""

from ._behaviour import Behaviour as Behaviour
from ._errors import (
    ActorCrashed as ActorCrashed,
    ActorError as ActorError,
    AskTimeout as AskTimeout,
    MailboxFull as MailboxFull,
    RegistryClosed as RegistryClosed,
    RestartBudgetExceeded as RestartBudgetExceeded,
)
from ._registry import Registry as Registry
from ._supervisor import RestartPolicy as RestartPolicy

__all__ = [
    "ActorCrashed",
    "ActorError",
    "AskTimeout",
    "Behaviour",
    "MailboxFull",
    "RegistryClosed",
    "Registry",
    "RestartBudgetExceeded",
    "RestartPolicy",
]
