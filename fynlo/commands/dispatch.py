"""Where every command arrives, from a socket or from HTTP, and leaves as one reply."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any, Awaitable

import pydantic
import trio

from actors import ActorCrashed, ActorError, AskTimeout
from fynlo.auth import permissions
from fynlo.auth.principal import Principal, Role
from fynlo.commands.calls import OutsideCall
from fynlo.commands.spec import COMMANDS, CommandSpec, invalid
from fynlo.commands.unit import stored_reply
from fynlo.db import Database
from fynlo.errors import FynloError, NotFound, ProviderUnavailable, Unavailable, ValidationError
from fynlo.logs import command_context
from fynlo.runtime.entity import Envelope
from fynlo.runtime.host import VenueHost
from fynlo.wire import Command, ErrorCode, reply_error, reply_ok

log = logging.getLogger("fynlo.commands")


class Dispatcher:
    def __init__(self, db: Database, host: VenueHost, providers: Any = None) -> None:
        self.db = db
        self.host = host
        self.providers = providers
        self.settings = host.settings

    async def execute(self, principal: Principal, command: Command) -> dict[str, Any]:
        with command_context(command.id, command.name, principal.venue_id, principal.staff_id):
            return await self._answered(command, self._execute(principal, command))

    @staticmethod
    async def _answered(command: Command, work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        """Exactly one reply envelope for `command`, whatever `work` ends in."""
        try:
            reply = await work
        except FynloError as exc:
            reply = reply_error(command.id, str(exc.code), exc.message, exc.details or None)
        except ActorCrashed:
            log.error("command failed in its actor")
            reply = reply_error(command.id, ErrorCode.INTERNAL, "the command failed; it changed nothing and may be retried")
        except AskTimeout:
            reply = reply_error(command.id, ErrorCode.UNAVAILABLE, "the command timed out; retry with the same id")
        except ActorError:
            reply = reply_error(command.id, ErrorCode.UNAVAILABLE, "the venue is restarting; retry")
        except Exception:  # a defect: answered, logged, and the socket's other commands go on
            log.exception("command failed")
            reply = reply_error(command.id, ErrorCode.INTERNAL, "the command failed; retry with the same id")
        log.info("command", extra={"ok": reply["ok"], "code": None if reply["ok"] else reply["error"]["code"]})
        return reply

    async def _execute(self, principal: Principal, command: Command) -> dict[str, Any]:
        spec = COMMANDS.get(command.name)
        if spec is None:
            raise ValidationError(f"unknown command {command.name!r}", field="name")
        permissions.check(principal, command.name)
        args = self._args(spec, command)
        if spec.query is not None:
            query = spec.query
            result = await self.db.run(lambda conn: query(conn, principal, args))
            return reply_ok(command.id, result)
        return await self._write(spec, principal, command, args)

    @staticmethod
    def _args(spec: CommandSpec, command: Command) -> Any:
        try:
            return spec.args.model_validate(command.args)
        except pydantic.ValidationError as exc:
            raise invalid(f"invalid args for {command.name}", exc) from None

    async def _write(self, spec: CommandSpec, principal: Principal, command: Command, args: Any) -> dict[str, Any]:
        venue_id = principal.venue_id
        runtime = await self.host.runtime_for(venue_id)
        if runtime is None:
            # A replay can be answered anywhere; a new command only where the venue runs.
            stored = await self.db.run(lambda conn: stored_reply(conn, venue_id, command))
            if stored is not None:
                return stored
            holder = await self.host.owner_of(venue_id)
            if holder is None:
                raise NotFound("venue not found")
            if holder["owner"] is None:  # its server died and another has not taken it over yet
                raise Unavailable("this venue is moving to another server; retry", reason="no_owner")
            raise Unavailable(
                "this venue runs on another server", owner=holder["owner"], address=holder["address"]
            )
        return await self._ask(runtime, spec, principal, command, args)

    async def system(self, venue_id: str, spec: CommandSpec, command: Command) -> dict[str, Any]:
        """Run one of the venue's own commands (a provider callback, a sweep) in its actor.

        These specs are not in COMMANDS, so no client can send them; the command id is derived
        from what caused it (a webhook's event id), so a repeat is answered, not applied again.
        """
        principal = Principal(staff_id=None, venue_id=venue_id, role=Role.SYSTEM, terminal_id=None,  # type: ignore[arg-type]
                              family_id=None, expires_at=float("inf"))
        with command_context(command.id, command.name, venue_id, None):
            return await self._answered(command, self._system(principal, spec, command))

    async def _system(self, principal: Principal, spec: CommandSpec, command: Command) -> dict[str, Any]:
        runtime = await self.host.runtime_for(principal.venue_id)
        if runtime is None:
            raise Unavailable("this venue runs on another server; retry later", reason="not_here")
        return await self._ask(runtime, spec, principal, command, self._args(spec, command))

    async def _ask(self, runtime: Any, spec: CommandSpec, principal: Principal, command: Command,
                   args: Any) -> dict[str, Any]:
        assert spec.actor_key is not None
        key = spec.actor_key(args, principal)
        try:
            async with trio.open_nursery() as nursery:
                begun: list[tuple[OutsideCall, _Answer]] = []

                def begin(call: OutsideCall) -> None:  # an early call, while its pending state commits
                    answer = _Answer()
                    begun.append((call, answer))
                    nursery.start_soon(self._answer_into, call, answer)

                reply = await runtime.ask(key, Envelope(spec, principal, command, args, begin=begin))
                if not isinstance(reply, OutsideCall):
                    nursery.cancel_scope.cancel()  # a call begun for a commit that failed: nobody sees it
                    return reply
                # Its pending state is committed; the call runs here, outside the actor's mailbox.
                call = reply
                answer = next((a for c, a in begun if c is call), None)
                outcome = await (self._call(call) if answer is None else answer.wait())
                nursery.cancel_scope.cancel()  # any other, begun for a try that did not commit
        except BaseExceptionGroup as group:  # the ask's own error (the calls begun never raise)
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        known = None if call.answer is None else call.answer(outcome)
        if known is None:
            finish = partial(call.finish, outcome=outcome)
            return await runtime.ask(key, Envelope(spec, principal, command, args, finish=finish))
        await runtime.tell(key, Envelope(spec, principal, command, args, finish=partial(_recording, call, outcome, known)))
        return reply_ok(command.id, known)

    async def _answer_into(self, call: OutsideCall, answer: _Answer) -> None:
        try:
            outcome = await self._call(call)
        except Exception as exc:  # raised where it is awaited, as a call made there would raise it
            answer.set(exc, failed=True)
        else:
            answer.set(outcome)

    async def _call(self, call: OutsideCall) -> Any:
        """The provider's answer, or the FynloError it ended in (a timeout is `unavailable`)."""
        with trio.move_on_after(self.settings.provider_timeout_s):
            try:
                return await call.run(self.providers)
            except FynloError as exc:
                return exc
        return ProviderUnavailable("the payment provider did not answer in time; retry with the same id")


class _Answer:
    """What an outside call begun early answered, once it has."""

    def __init__(self) -> None:
        self._done = trio.Event()
        self._outcome: Any = None
        self._failed = False

    def set(self, outcome: Any, *, failed: bool = False) -> None:
        self._outcome, self._failed = outcome, failed
        self._done.set()

    async def wait(self) -> Any:
        await self._done.wait()
        if self._failed:
            raise self._outcome
        return self._outcome


def _recording(call: OutsideCall, outcome: Any, result: Any, tx: Any, state: Any) -> tuple[Any, Any]:
    """`call.finish`, storing the result the terminal was already answered with."""
    _, changed = call.finish(tx, state, outcome)
    return result, changed
