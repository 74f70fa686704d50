"""Command specs: what a command is called, what its args are, and who handles it.

Two kinds of command:
- queries read through the pool directly (`query`), change nothing and are not recorded;
- writes go to the actor named by `actor_key` (one task per order, per venue…), which runs
  `handler` inside one transaction with the events and the idempotency record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable

import pydantic
from pydantic import BaseModel, ConfigDict

from fynlo.auth.principal import Principal
from fynlo.errors import ValidationError


class Args(BaseModel):
    """Base of every command's args: unknown fields are refused rather than ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def invalid(message: str, exc: pydantic.ValidationError) -> ValidationError:
    """Our validation_error, listing each field pydantic refused."""
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False)
    ]
    return ValidationError(message, errors=errors)


QueryHandler = Callable[[Any, Principal, Any], Any]          # (conn, principal, args) -> result
WriteHandler = Callable[[Any, Any, Any], tuple[Any, Any]]    # (tx, state, args) -> (result, new state)
ActorKey = Callable[[Any, Principal], Hashable]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    args: type[Args]
    query: QueryHandler | None = None
    handler: WriteHandler | None = None
    actor_key: ActorKey | None = None
    # The command makes its actor's entity: an actor that has not read its state does not
    # read it first (the handler gets None), and the entity's row, if it exists, fails the
    # insert (fynlo/runtime/entity.py).
    creates: bool = False

    @property
    def writes(self) -> bool:
        return self.handler is not None


COMMANDS: dict[str, CommandSpec] = {}


def register(spec: CommandSpec) -> CommandSpec:
    if spec.name in COMMANDS:
        raise RuntimeError(f"command {spec.name} registered twice")
    if (spec.query is None) == (spec.handler is None) or (spec.handler and not spec.actor_key):
        raise RuntimeError(f"command {spec.name} needs either a query or a handler with an actor")
    COMMANDS[spec.name] = spec
    return spec


def query(name: str, args: type[Args]) -> Callable[[QueryHandler], QueryHandler]:
    def wrap(fn: QueryHandler) -> QueryHandler:
        register(CommandSpec(name=name, args=args, query=fn))
        return fn

    return wrap


def write(name: str, args: type[Args], *, actor: ActorKey,
          creates: bool = False) -> Callable[[WriteHandler], WriteHandler]:
    def wrap(fn: WriteHandler) -> WriteHandler:
        register(CommandSpec(name=name, args=args, handler=fn, actor_key=actor, creates=creates))
        return fn

    return wrap
