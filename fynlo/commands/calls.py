"""Writes that need an outside party (Stripe, the bank) without blocking their actor.

A handler that must call a provider returns an `OutsideCall` instead of a result. The actor
commits what the handler wrote so far (a `pending` payment, say) *without* the command's
reply; the dispatcher then makes the call outside the actor, so the order's other commands
keep flowing; and `finish` runs back in the actor, in a second transaction that records
what the provider said and stores the reply under the command id.

When `answer` can tell the reply from the provider's answer alone (an intent made and
waiting for its card, say), the dispatcher replies at once and queues `finish` behind it in
the actor's mailbox, where it stores that same reply: the reply does not wait for a second
commit, and whatever the terminal sends next about the order queues behind the record.

A call marked `early` begins as soon as the handler returns it, while its pending state is
still committing, rather than after: the commit's round trip and the way back from the actor
overlap the provider's answer. Only calls that move no money and whose result reaches nobody
before the commit may be early: creating an intent (its client secret is in the reply) or a
bank's payment request (its QR is in the reply). If the commit then fails, what the provider
made is reached by nobody; the command's retry writes the same pending row and makes the same
call with the same idempotency key, and so gets the same object back. A refund, a capture or a
cancel always waits for its pending state to commit.

A crash or timeout between the two leaves the pending row and no stored reply, so the
client's retry (same command id) runs the handler again, which sees its pending row and
makes the same call again — with the same provider idempotency key, so the provider answers
with what it did the first time rather than doing it twice. Until then, the provider's own
callback (a webhook, naming our payment id) moves the pending row on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from fynlo.errors import FynloError

# (tx, state, outcome) -> (result, new state); outcome is the provider's answer or the
# FynloError the call raised. A result that is a FynloError is committed but answered as an
# error and not stored, so the same command id may be tried again.
Finish = Callable[[Any, Any, "Any | FynloError"], tuple[Any, Any]]


@dataclass(frozen=True)
class OutsideCall:
    run: Callable[[Any], Awaitable[Any]]   # (providers) -> the provider's answer
    finish: Finish
    # (outcome) -> the result `finish` will record for it, when that needs no transaction
    # to know; None to wait for `finish`. Runs on the event loop: it must not block.
    answer: Callable[[Any], Any | None] | None = None
    early: bool = False   # may begin while the pending state commits (module docstring)
