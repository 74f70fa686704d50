"""One command, one transaction: the rows, the venue events and the idempotency record.

Runs inside a worker thread (`Database.run`, pipelined by the actors). An acknowledged command
is one whose transaction committed, so nothing a client was told "ok" about can be lost. Only
successful replies are recorded: an error changed nothing, so re-sending it simply evaluates it
again.

A command costs few round trips (docs/performance.md): its first statement reads, with BEGIN,
the idempotency record and what deeper code would otherwise read again (`now()`, the venue's
versions); its writes go out without waiting; its events are written at the end, all in one
statement, with the idempotency record; then COMMIT.

Once a command of the venue has read that first answer, the next ones need not wait for theirs
(`VenueCache`): the handler goes on with the venue's row and versions as last read, which the
venue row lock's statement checks (below), and a replay is caught by the idempotency record's
unique key, which fails the transaction (`_Raced`), after which the stored reply is read and
answered. The commands that end without a stored reply (an error, an outside call) still
read the first answer, since they must not answer or commit anything for a command answered
before. A handler that asks for the transaction's time (`fynlo.orders.repo.now`) gets
PostgreSQL's clock as the venue's last command read it, carried forward by this process's
monotonic clock (`VenueCache.now`), and a statement that goes with the writes checks it
against PostgreSQL's `now()` (far off, the command runs again and reads it). So a command
whose handler reads nothing else costs one round trip and a commit.

The venue row lock comes as late as it can: just before the command's first write (see
`Tx.begin`), not at its start. Plain SELECTs before that lock no rows and so cannot take part
in a deadlock. What they read may be changed by another command before the lock is taken,
which is why the lock statement also checks that the menu, the floor plan and the venue's
settings are still at the versions the command started from; if not, the whole transaction
is run again (a serialization failure, which `Database.run` retries). Orders are covered by
their own version check (`fynlo/orders/repo.py`), tables and stock counts by row locks taken
after the venue's.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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

# What a command reads once, with BEGIN (kept in `conn.memo` under these names), and checks
# again under the venue row lock.
_VERSIONS = ("menu_version", "floor_version", "version")

_START = (
    "SELECT now() AS now, v.menu_version, v.floor_version, v.version, i.name, i.args_hash, i.reply,"
    "       v.id AS venue_id, v.name AS venue_name, v.settings AS venue_settings"
    "  FROM venues v LEFT JOIN idempotency i ON i.venue_id = v.id AND i.command_id = %s"
    " WHERE v.id = %s"
)
# The venue row locked, the lease held, and the venue's documents as the command read them at
# its start: each checked by the statement itself (fynlo_check, migration 0008), so nothing
# waits for its answer. A changed document is a serialization failure (40001): the command
# runs again. A lost lease fails with LEASE_LOST.
LEASE_LOST = "FY001"
_FENCE = (
    "SELECT fynlo_check(count(*) = 1, %(lease_lost)s, 'this server no longer holds the venue''s lease'),"
    "       fynlo_check(bool_and(f.menu_version = %(menu_version)s AND f.floor_version = %(floor_version)s"
    "                            AND f.version = %(version)s) IS NOT FALSE, '40001',"
    "                   'the venue''s menu, floor or settings changed under the command')"
    "  FROM (SELECT v.menu_version, v.floor_version, v.version FROM venues v"
    "          JOIN venue_leases l ON l.venue_id = v.id"
    "         WHERE v.id = %(venue)s AND l.owner = %(owner)s AND l.expires_at > now()"
    "           FOR NO KEY UPDATE OF v FOR KEY SHARE OF l) f"
)
IDEMPOTENCY_KEY = "idempotency_pkey"
_RECORD = ("INSERT INTO idempotency (venue_id, command_id, name, args_hash, reply)"
           " VALUES (%(venue)s, %(command)s, %(command_name)s, %(args_hash)s, %(reply)s)")
# A command's events and its reply's record are one statement ({record}: the record as a CTE,
# or nothing), since each statement costs the driver more than its rows. The events are rows
# of a VALUES list rather than arrays: a jsonb[] parameter is escaped character by character in
# Python, which cost more than the round trips this file saves.
_EVENTS = (
    "WITH s AS (UPDATE venues SET last_seq = last_seq + %(n)s WHERE id = %(venue)s RETURNING last_seq){record}"
    " INSERT INTO events (venue_id, seq, name, data, by_staff, command_id)"
    " SELECT %(venue)s, s.last_seq - %(n)s + e.i, e.name, e.data, %(by)s, %(command)s"
    "   FROM s, (VALUES {rows}) AS e(i, name, data)"
    " RETURNING seq, at"
)


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


# How long PostgreSQL's time, as last read, may be carried forward by this process's clock,
# and how far the result may be from PostgreSQL's own before the command runs again.
CLOCK_FRESH_S = 10.0
CLOCK_TOLERANCE_S = 1.0
_CLOCK_CHECK = ("SELECT fynlo_check(abs(extract(epoch FROM now() - %s::timestamptz)) < %s, '40001',"
                " 'this server''s clock has drifted from the database''s')")


class VenueCache:
    """The venue's row and document versions, and PostgreSQL's time, as a command of this
    venue last read them with its BEGIN: what the next one goes on with instead of waiting
    for its own read (module docstring). Shared by the venue's worker threads."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] | None = None   # swapped whole
        self._lock = threading.Lock()
        self._clock: tuple[datetime, float] | None = None   # PostgreSQL's now(), and perf_counter() then
        self._last: datetime | None = None                  # the latest time handed out

    def read(self, row: dict[str, Any], asked_at: float) -> None:
        """Keep what a command's first statement (`_START`), sent at `asked_at`
        (`time.perf_counter()`), answered."""
        self.snapshot = _venue_part(row)
        with self._lock:
            if self._clock is None or asked_at > self._clock[1]:
                self._clock = (row["now"], asked_at)
            self._last = max(self._last or row["now"], row["now"])

    def forget(self) -> None:
        """Drop the venue's row and versions (a command changed them): the next command reads them."""
        self.snapshot = None

    def now(self) -> datetime | None:
        """PostgreSQL's time now: the last read, plus this process's monotonic time since,
        and later than any handed out before; None if that read is too old to carry forward."""
        with self._lock:
            if self._clock is None:
                return None
            read, asked_at = self._clock
            elapsed = time.perf_counter() - asked_at
            if elapsed > CLOCK_FRESH_S:
                return None
            now = read + timedelta(seconds=elapsed)
            if self._last is not None and now <= self._last:
                now = self._last + timedelta(microseconds=1)
            self._last = now
            return now


def _venue_part(row: dict[str, Any]) -> dict[str, Any]:
    """The venue's row (for `read_venue`, fynlo/venues/commands.py) and versions in `_START`'s answer."""
    return {"venue_row": {"id": row["venue_id"], "name": row["venue_name"], "settings": row["venue_settings"],
                          "version": row["version"]}, **{k: row[k] for k in _VERSIONS}}


class Replayed(Exception):
    """This command id was answered before: its transaction must roll back, and `reply` (the
    stored one) is the answer."""

    def __init__(self, reply: dict[str, Any]) -> None:
        super().__init__("replayed")
        self.reply = reply


class Existing(Exception):
    """The command's insert met a row that already exists: its stored reply, if this command
    id has one (a replay that went ahead), else `error`."""

    def __init__(self, error: FynloError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass
class Tx:
    """What a write handler sees: the connection, who is asking, and a way to emit events."""

    conn: Any
    venue_id: str
    principal: Principal
    command: Command
    lease_owner: str
    settings: Settings
    cache: VenueCache | None = None
    events: list[StoredEvent] = field(default_factory=list)  # filled once the transaction commits
    approved_by: str | None = None
    ahead: bool = False   # went on without waiting for its first read (`start`)
    _emitted: list[tuple[str, Any]] = field(default_factory=list)
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

    def emit(self, name: str, data: Any) -> None:
        """Add a venue event. The events are written when the command finishes, in the order
        emitted, with the venue's next gap-free seqs (under the venue row lock to commit)."""
        self._emitted.append((name, data))

    def start(self) -> Callable[[], dict[str, Any] | None]:
        """Send the read, with BEGIN, of the reply already stored for this command id and of
        what the rest of the transaction would read again; the call this returns reads it
        (once) and answers the stored reply, or None. What the caller sends in between (an
        actor's state) shares its round trip.

        With the venue's row and versions in `cache`, go on without that read (`ahead`):
        they come from the cache, and so does the time when it is first asked for
        (`Connection.read_start`, `_now_ahead`). The answer is read once the command has
        committed, for the venue's next command.

        Then arrange for `begin` to run before the command's first write. A command run again
        because the venue changed under its first try takes the venue row first instead, so
        that what it reads here cannot change before it commits: a busy menu editor cannot
        make it fail for contention.
        """
        if self.conn.attempt > 1:
            self.begin()
        sent = self.conn.execute(_START, (self.command.id, self.venue_id))
        asked_at = time.perf_counter()
        answer: list[dict[str, Any] | None] = []
        snapshot = self.cache.snapshot if self.cache is not None and self.conn.attempt == 1 else None
        self.ahead = snapshot is not None

        def stored() -> dict[str, Any] | None:
            if not answer:
                self.conn.read_start = None
                row = sent.fetchone()
                answer.append(row)
                if row is not None:
                    if self.cache is not None:
                        self.cache.read(row, asked_at)
                    if self.ahead:  # the handler went on with the cached row and versions, which the
                        self.conn.memo.setdefault("now", row["now"])   # fence checks, and maybe a time
                    else:
                        self.conn.memo.update(now=row["now"], **_venue_part(row))
            row = answer[0]
            return None if row is None or row["name"] is None else _replay(row, self.command)

        if snapshot is not None:
            self.conn.memo.update(snapshot)
            self.conn.read_start = lambda: self._now_ahead(stored)
            self.conn.after_commit(stored)  # answered by now (no wait): fresh for the venue's next command
        self.conn.before_write = self.begin
        return stored

    def venue_changed(self) -> None:
        """Say that this command changes the venue's settings or the version of its menu or
        floor plan. Once it commits, the cache forgets the venue's row: the venue's next
        command reads it first, rather than going ahead with versions its fence would refuse
        and running a second time."""
        if self.cache is not None:
            self.conn.after_commit(self.cache.forget)

    def _now_ahead(self, stored: Callable[[], dict[str, Any] | None]) -> None:
        """The transaction's time for a command gone ahead: carried forward (`VenueCache.now`)
        and checked by PostgreSQL with the writes, or else read, with the replay check."""
        assert self.cache is not None
        now = self.cache.now()
        if now is None:
            self.unless_replayed(stored)
            return
        self.conn.read_start = None
        self.conn.memo["now"] = now
        self.conn.execute(_CLOCK_CHECK, (now, CLOCK_TOLERANCE_S))

    def unless_replayed(self, stored: Callable[[], dict[str, Any] | None]) -> None:
        """Raise Replayed if the first read found a stored reply for this command id."""
        previous = stored()
        if previous is not None:
            raise Replayed(previous)

    def begin(self) -> None:
        """Lock the venue row, before the command writes or locks anything else, and refuse to
        write for a venue whose lease this process no longer holds.

        Every write of a venue takes the venue row before any other row (orders, tables,
        counters, stock), so two commands can never wait on each other in a circle. The
        writes of one venue commit one after another; those of different venues never meet.
        FOR KEY SHARE on the lease keeps another process from taking it until this one commits,
        and lets this process renew it meanwhile (fynlo/runtime/lease.py).
        Nothing waits for the statement: it fails, and the transaction with it, if its checks do.
        """
        if self._fenced:
            return
        self._fenced = True
        self.conn.before_write = None
        started = self.conn.memo
        self.conn.translate(LEASE_LOST, lambda exc: Unavailable("this server no longer runs the venue; retry",
                                                                reason="lease_lost"))
        self.conn.execute(_FENCE, {"lease_lost": LEASE_LOST, "venue": self.venue_id, "owner": self.lease_owner,
                                   **{k: started.get(k) for k in _VERSIONS}})

    def finish(self, reply: dict[str, Any] | None) -> None:
        """Write the events and, for a reply, its idempotency record, without waiting for
        either: the events' seqs are read once the transaction has committed (`events`), and a
        second record of the same command id fails the transaction (another one raced it)."""
        params: dict[str, Any] = {"venue": self.venue_id, "command": self.command.id}
        if reply is not None:
            self.conn.translate("23505", lambda exc: _Raced() if exc.diag.constraint_name == IDEMPOTENCY_KEY else None)
            params.update(command_name=self.command.name, args_hash=args_hash(self.command), reply=Jsonb(reply))
        if not self._emitted:
            if reply is not None:
                self.conn.execute(_RECORD, params)
            return
        written = self._write_events(params, record=reply is not None)
        emitted, by = list(self._emitted), self.principal.staff_id

        def read_seqs() -> None:
            rows = sorted(written.fetchall(), key=lambda r: r["seq"])
            self.events.extend(StoredEvent(self.venue_id, r["seq"], name, by, r["at"], data)
                               for r, (name, data) in zip(rows, emitted, strict=True))

        self.conn.after_commit(read_seqs)

    def _write_events(self, params: dict[str, Any], *, record: bool) -> Any:
        n = len(self._emitted)
        rows = ", ".join(f"({i}, %(name{i})s, %(data{i})s::jsonb)" for i in range(1, n + 1))
        params.update(n=n, by=self.principal.staff_id)
        for i, (name, data) in enumerate(self._emitted, 1):
            params[f"name{i}"], params[f"data{i}"] = name, Jsonb(data)
        return self.conn.execute(_EVENTS.format(rows=rows, record=f", r AS ({_RECORD})" if record else ""), params)


@dataclass(frozen=True)
class Outcome:
    reply: dict[str, Any]
    events: list[StoredEvent]
    replayed: bool
    call: OutsideCall | None = None     # committed without a reply: the call comes next


class _Raced(Exception):
    """Another transaction recorded the same command id first."""


def _replay(row: dict[str, Any], command: Command) -> dict[str, Any]:
    """The stored reply; a reused id with other args is a conflict."""
    if row["name"] != command.name or bytes(row["args_hash"]) != args_hash(command):
        raise Conflict(
            "this command id was already used for a different command",
            reason="idempotency_key_reused",
        )
    return row["reply"]


def stored_reply(conn: Any, venue_id: str, command: Command) -> dict[str, Any] | None:
    """The first reply to this command id, or None; a reused id with other args is a conflict."""
    row = conn.execute(
        "SELECT name, args_hash, reply FROM idempotency WHERE venue_id = %s AND command_id = %s",
        (venue_id, command.id),
    ).fetchone()
    return None if row is None else _replay(row, command)


def run_unit(tx: Tx, body: Callable[[Tx], Any], started: Callable[[], dict[str, Any] | None] | None = None) -> Outcome:
    """Run `body` and record its reply, unless this command id was seen before.

    `started` is `tx.start()` when the caller sent it already. A body that returns an
    `OutsideCall` or a `FynloError` commits what it wrote but records no reply: the command is
    not finished (the call comes next) or it failed in a way worth keeping (a declined card is
    a failed payment), and the same id may be sent again.

    Raises Replayed when a command that went ahead (`Tx.start`) turns out to have been
    answered before and ends without a reply to record; `_Raced` (at COMMIT) when it does
    record one. Either way its transaction rolls back and the stored reply is the answer.
    """
    stored = started or tx.start()
    if not tx.ahead:
        previous = stored()
        if previous is not None:
            return Outcome(previous, [], True)
    try:
        result = body(tx)
    except FynloError:
        if tx.ahead:
            tx.unless_replayed(stored)
        raise
    reply = None if isinstance(result, (OutsideCall, FynloError)) else reply_ok(tx.command.id, result)
    if reply is None and tx.ahead:
        tx.unless_replayed(stored)
    if tx.ahead:  # what it did with the cached venue row is checked even if it wrote nothing
        tx.begin()
    tx.finish(reply)
    if isinstance(result, OutsideCall):
        return Outcome({}, tx.events, False, call=result)
    if isinstance(result, FynloError):
        return Outcome(reply_error(tx.command.id, str(result.code), result.message, result.details or None),
                       tx.events, False)
    assert reply is not None
    return Outcome(reply, tx.events, False)
