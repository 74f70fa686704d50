"""The actor behind every write: one per order, per venue, per till…

Its state is whatever the kind's loader reads from PostgreSQL; it is rebuilt on every
(re)start, so a crash costs nothing but the command in flight. A handler gets the state and
returns the new one without mutating the old: the new state is kept only once its
transaction has committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Hashable

from fynlo.auth import permissions
from fynlo.auth.permissions import ApprovalPinRejected
from fynlo.auth.principal import Principal
from fynlo.commands.calls import OutsideCall
from fynlo.commands.spec import Args, CommandSpec
from fynlo.commands.unit import Outcome, Tx, _Raced, run_unit, stored_reply
from fynlo.errors import FynloError
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


class EntityActor:
    def __init__(self, runtime: "VenueRuntime", key: Hashable) -> None:
        kind, entity_id = key  # type: ignore[misc]
        self._runtime = runtime
        self._load = LOADERS[kind]
        self._entity_id = str(entity_id)
        self.state: Any = None

    async def start(self) -> None:
        venue_id = self._runtime.venue_id
        self.state = await self._runtime.db.run(lambda conn: self._load(conn, venue_id, self._entity_id),
                                                pipeline=True)

    async def stop(self) -> None:
        return None

    async def receive(self, message: object) -> dict[str, Any] | OutsideCall:
        assert isinstance(message, Envelope)
        try:
            outcome = await self._execute(message)
        except FynloError as exc:
            if isinstance(exc, ApprovalPinRejected):
                await self._runtime.db.run(exc.record)  # the command rolled back; the failure counts
            return reply_error(message.command.id, str(exc.code), exc.message, exc.details or None)
        self._runtime.publisher.committed(outcome.events)
        return outcome.call or outcome.reply

    async def _execute(self, env: Envelope) -> Outcome:
        runtime = self._runtime
        handler = env.spec.handler
        assert handler is not None
        new_state: list[Any] = []

        def body(tx: Tx) -> Any:
            if env.finish is not None:
                result, state = env.finish(tx, self.state)
                new_state.append(state)
                return result
            if permissions.needs_approval(env.principal, env.command.name):
                tx.approve()
            result, state = handler(tx, self.state, env.args)
            new_state.append(state)
            return result

        def work(conn: Any) -> Outcome:
            tx = Tx(conn, runtime.venue_id, env.principal, env.command, runtime.lease_owner, runtime.settings)
            return run_unit(tx, body)

        try:
            try:
                outcome = await runtime.db.run(work, pipeline=True)
            except StaleState:
                await self.start()
                new_state.clear()
                outcome = await runtime.db.run(work, pipeline=True)
        except _Raced:
            reply = await runtime.db.run(lambda conn: stored_reply(conn, runtime.venue_id, env.command))
            return Outcome(reply or {}, [], True)
        if not outcome.replayed:
            self.state = new_state[-1]
        return outcome
