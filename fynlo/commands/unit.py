"""One command, one transaction: the rows, the venue events and the idempotency record.

Runs inside a worker thread (`Database.run`). An acknowledged command is one whose
transaction committed, so nothing a client was told "ok" about can be lost. Only successful
replies are recorded: an error changed nothing, so re-sending it simply evaluates it again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from psycopg.types.json import Jsonb

from fynlo.auth.permissions import verify_approval
from fynlo.auth.principal import Principal
from fynlo.commands.calls import OutsideCall
from fynlo.config import Settings
from fynlo.errors import Conflict, FynloError, Unavailable
from fynlo.wire import Command, reply_error, reply_ok

# Fields that may change between a first try and its retry without making it another command.
_NOT_HASHED = frozenset({"approval"})


def args_hash(command: Command) -> bytes:
    body = {k: v for k, v in command.args.items() if k not in _NOT_HASHED}
    blob = json.dumps([command.name, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).digest()


@dataclass(frozen=True, slots=True)
class StoredEvent:
    venue_id: str
    seq: int
    name: str
    by: str | None
    at: datetime
    data: Any


@dataclass
class Tx:
    """What a write handler sees: the connection, who is asking, and a way to emit events."""

    conn: Any
    venue_id: str
    principal: Principal
    command: Command
    lease_owner: str
    settings: Settings
    events: list[StoredEvent] = field(default_factory=list)
    approved_by: str | None = None
    _fenced: bool = False

    def approve(self) -> str:
        """Check the manager's approval PIN the command carries; return the approver's id.

        Raises ApprovalRequired (none or a wrong PIN), Forbidden (not a manager's PIN) or
        RateLimited (PIN entry locked). The grant is recorded as an event of this command.
        """
        if self.approved_by is None:
            self.approved_by = verify_approval(
                self.conn, self.settings, self.venue_id, self.command.args.get("approval"),
                terminal_id=self.principal.terminal_id, command=self.command.name, emit=self.emit,
            )
        return self.approved_by

    def emit(self, name: str, data: Any) -> StoredEvent:
        """Append a venue event with the next gap-free seq (the venue row stays locked to commit)."""
        if not self._fenced:
            self.begin()
        row = self.conn.execute(
            "WITH s AS (UPDATE venues SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq)"
            " INSERT INTO events (venue_id, seq, name, data, by_staff, command_id)"
            " SELECT %s, last_seq, %s, %s, %s, %s FROM s RETURNING seq, at",
            (self.venue_id, self.venue_id, name, Jsonb(data), self.principal.staff_id, self.command.id),
        ).fetchone()
        event = StoredEvent(self.venue_id, row["seq"], name, self.principal.staff_id, row["at"], data)
        self.events.append(event)
        return event

    def begin(self) -> None:
        """Lock the venue row first, and refuse to write for a venue whose lease this process
        no longer holds.

        Every write of a venue takes the venue row before any other row (orders, tables,
        counters, stock), so two commands can never wait on each other in a circle. The
        writes of one venue commit one after another; those of different venues never meet.
        FOR SHARE on the lease keeps another process from taking it until this one commits.
        """
        row = self.conn.execute(
            "SELECT 1 FROM venues v JOIN venue_leases l ON l.venue_id = v.id"
            " WHERE v.id = %s AND l.owner = %s AND l.expires_at > now() FOR UPDATE OF v FOR SHARE OF l",
            (self.venue_id, self.lease_owner),
        ).fetchone()
        if row is None:
            raise Unavailable("this server no longer runs the venue; retry", reason="lease_lost")
        self._fenced = True


@dataclass(frozen=True)
class Outcome:
    reply: dict[str, Any]
    events: list[StoredEvent]
    replayed: bool
    call: OutsideCall | None = None     # committed without a reply: the call comes next


class _Raced(Exception):
    """Another transaction recorded the same command id first."""


def stored_reply(conn: Any, venue_id: str, command: Command) -> dict[str, Any] | None:
    """The first reply to this command id, or None; a reused id with other args is a conflict."""
    row = conn.execute(
        "SELECT name, args_hash, reply FROM idempotency WHERE venue_id = %s AND command_id = %s",
        (venue_id, command.id),
    ).fetchone()
    if row is None:
        return None
    if row["name"] != command.name or bytes(row["args_hash"]) != args_hash(command):
        raise Conflict(
            "this command id was already used for a different command",
            reason="idempotency_key_reused",
        )
    return row["reply"]


def run_unit(tx: Tx, body: Callable[[Tx], Any]) -> Outcome:
    """Run `body` and record its reply, unless this command id was seen before.

    A body that returns an `OutsideCall` or a `FynloError` commits what it wrote but records
    no reply: the command is not finished (the call comes next) or it failed in a way worth
    keeping (a declined card is a failed payment), and the same id may be sent again.
    """
    previous = stored_reply(tx.conn, tx.venue_id, tx.command)
    if previous is not None:
        return Outcome(previous, [], True)
    tx.begin()
    result = body(tx)
    if isinstance(result, OutsideCall):
        return Outcome({}, tx.events, False, call=result)
    if isinstance(result, FynloError):
        return Outcome(reply_error(tx.command.id, str(result.code), result.message, result.details or None),
                       tx.events, False)
    reply = reply_ok(tx.command.id, result)
    inserted = tx.conn.execute(
        "INSERT INTO idempotency (venue_id, command_id, name, args_hash, reply)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
        (tx.venue_id, tx.command.id, tx.command.name, args_hash(tx.command), Jsonb(reply)),
    ).fetchone()
    if inserted is None:
        raise _Raced
    return Outcome(reply, tx.events, False)
