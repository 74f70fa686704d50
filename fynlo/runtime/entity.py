"""The actor behind every write: one per order, per venue, per till…

Its state is whatever the kind's loader reads from PostgreSQL; it is rebuilt after every
(re)start, so a crash costs nothing but the command in flight. Between commands it keeps the
state it last wrote; another actor's transaction may change the same rows (reconciliation, a
split, a merge), which the next write finds by its version check and a refusal by reading again. The loader runs inside the
first command's own transaction rather than in one of its own, in the round trip of the
command's first read (`Tx.start`), which saves a new order's `order.open` a thread crossing,
a commit and a wait. A handler gets the state and returns the new one
without mutating the old: the new state is kept only once its transaction has committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Hashable

import trio

from fynlo.auth import permissions
from fynlo.auth.permissions import ApprovalPinRejected
from fynlo.auth.principal import Principal
from fynlo.commands.calls import OutsideCall
from fynlo.commands.spec import Args, CommandSpec
from fynlo.commands.unit import Existing, Outcome, Replayed, Tx, _Raced, run_unit, stored_reply
from fynlo.errors import Conflict, FynloError, NotFound, ValidationError
from fynlo.wire import Command, reply_error

if TYPE_CHECKING:
    from fynlo.runtime.venue import VenueRuntime

log = logging.getLogger("fynlo.actor")

Loader = Callable[[Any, str, str], Any]  # (conn, venue_id, entity_id) -> state
LOADERS: dict[str, Loader] = {}


def loader(kind: str) -> Callable[[Loader], Loader]:
    """Register how an actor kind rebuilds its state from the database."""

    def wrap(fn: Loader) -> Loader:
        LOADERS[kind] = fn
        return fn

    return wrap


class StaleState(Exception):
    """The actor's state is older than the database's (another actor's transaction changed
    the same rows): the actor reloads and runs the command again."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A command on its way to an actor; with `finish`, the second half of one that called a
    provider (fynlo/commands/calls.py), bound to what the provider answered."""

    spec: CommandSpec
    principal: Principal
    command: Command
    args: Args
    finish: Callable[[Tx, Any], tuple[Any, Any]] | None = None
    # Begins an `early` outside call while its pending state commits; run on the Trio thread.
    begin: Callable[[OutsideCall], None] | None = None


class EntityActor:
    def __init__(self, runtime: "VenueRuntime", key: Hashable) -> None:
        kind, entity_id = key  # type: ignore[misc]
        self._runtime = runtime
        self._load = LOADERS[kind]
        self._entity_id = str(entity_id)
        self.state: Any = None
        self._loaded = False

    async def start(self) -> None:
        """Nothing to read yet: the first command reads the state in its own transaction."""
        self._loaded = False

    async def stop(self) -> None:
        return None

    async def receive(self, message: object) -> dict[str, Any] | OutsideCall:
        assert isinstance(message, Envelope)
        try:
            outcome = await self._execute(message)
        except FynloError as exc:
            if isinstance(exc, ApprovalPinRejected):  # the command rolled back; the failure counts
                if await self._runtime.db.run(exc.record):
                    self._runtime.publisher.poke()       # a lock started: its event goes out now
            return reply_error(message.command.id, str(exc.code), exc.message, exc.details or None)
        self._runtime.publisher.committed(outcome.events)
        return outcome.call or outcome.reply

    async def _execute(self, env: Envelope) -> Outcome:
        runtime = self._runtime
        handler = env.spec.handler
        assert handler is not None
        new_state: list[Any] = []
        token = trio.lowlevel.current_trio_token()

        def work(conn: Any) -> Outcome:
            tx = Tx(conn, runtime.venue_id, env.principal, env.command, runtime.lease_owner, runtime.settings,
                    cache=runtime.venue_cache)
            started = tx.start()  # answered in the loader's round trip
            if self._loaded:
                state = self.state
            elif env.spec.creates and env.finish is None:  # a row already there fails its insert
                state = None
            else:
                state = self._load(conn, runtime.venue_id, self._entity_id)

            def body(tx: Tx) -> Any:
                if env.finish is not None:
                    result, changed = env.finish(tx, state)
                else:
                    if permissions.needs_approval(env.principal, env.command.name):
                        tx.approve()
                    result, changed = handler(tx, state, env.args)
                new_state.append(changed)
                return result

            new_state.clear()
            new_state.append(state)  # what stands if the command turns out to be a replay
            outcome = run_unit(tx, body, started)
            if outcome.call is not None and outcome.call.early and env.begin is not None:
                token.run_sync_soon(env.begin, outcome.call)  # while COMMIT goes out (fynlo/commands/calls.py)
            return outcome

        try:
            try:
                outcome = await runtime.db.run(work, pipeline=True)
            except StaleState:
                self._loaded = False
                outcome = await runtime.db.run(work, pipeline=True)
            except (Conflict, NotFound, ValidationError):
                if not self._loaded:
                    raise
                # Refused on the state this actor kept, which another actor's transaction may
                # have changed since (a reconciliation, a split, a merge): a write would have
                # found that out by its version check, a refusal judges again on what is stored.
                self._loaded = False
                outcome = await runtime.db.run(work, pipeline=True)
        except Replayed as replayed:
            return Outcome(replayed.reply, [], True)
        except (_Raced, Existing) as met:
            # Another try recorded its reply first, or this one went ahead of its read (a
            # replay); an existing row with no reply stored for this id is the command's error.
            reply = await runtime.db.run(lambda conn: stored_reply(conn, runtime.venue_id, env.command))
            if reply is None and isinstance(met, Existing):
                raise met.error from None
            return Outcome(reply or {}, [], True)
        self.state, self._loaded = new_state[-1], True
        return outcome
