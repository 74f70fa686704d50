"""The one place worker threads meet Trio.

psycopg 3's synchronous pool, driven from Trio: a whole unit of work (one transaction) is one
function run in a worker thread under a CapacityLimiter sized to the pool, so a thread is never
left waiting for a connection. psycopg's async API needs asyncio, which is why (see
docs/decisions.md). When Trio cancels a call, the running query is cancelled on the server
(`conn.cancel_safe()`, run outside the limiter so it cannot deadlock when every slot is taken)
and the connection goes back to the pool at once. A unit of work whose connection broke before
its COMMIT left runs again on a fresh connection (PostgreSQL rolled it back; docs/decisions.md).
One still waiting on PostgreSQL past the pool's deadline (a network partition) is ended by a
watchdog thread and answers `unavailable`, `reason: timeout`.

A unit of work may also run pipelined (`run(work, pipeline=True)`, what the actors use). Its
statements are sent without waiting for one another and the thread waits only when it reads a
result: BEGIN goes out with the first statement and COMMIT with the writes nobody read back,
so a transaction costs one round trip per result it needs before it ends. Each round trip is a
wake-up of this thread and of PostgreSQL, which under load costs far more than the statement
(docs/performance.md). What must hold for the transaction to commit is therefore checked by
the statements themselves where it can be (`fynlo_check` in SQL, migration 0008): a failed
check fails its statement, the transaction cannot commit, and `Connection.translate` turns
the server's error into the domain's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, TypeVar

import psycopg
import trio
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.json import set_json_dumps
from psycopg_pool import ConnectionPool

from fynlo.errors import Unavailable
from fynlo.wire import dumps

log = logging.getLogger("fynlo.db")

# Jsonb parameters (orders, events, replies) are written by orjson: PostgreSQL stores the same
# value, and the worker thread spends a fifth of the time on it.
set_json_dumps(dumps)

T = TypeVar("T")
Work = Callable[["Connection"], T]

# A plain read: a SELECT without a locking clause. Anything else (INSERT, UPDATE, DELETE, a WITH
# that may write, SELECT … FOR UPDATE/SHARE) counts as a write for `Connection.before_write`.
_SELECT = re.compile(r"\s*\(*\s*select\b", re.IGNORECASE)
_LOCKING = re.compile(r"\bfor\s+(?:no\s+key\s+update|update|key\s+share|share)\b", re.IGNORECASE)


Translation = Callable[[psycopg.Error], BaseException | None]


class Connection(psycopg.Connection[dict[str, Any]]):
    """A pooled connection (rows come back as dicts) with five hooks for a unit of work,
    all reset when each transaction starts:

    - `memo`: what the transaction read once that code deeper down would otherwise read again
      (its `now()`, the venue's row and document versions: fynlo/commands/unit.py fills it);
    - `before_write`: called once, just before the first statement that is not a plain SELECT.
      A command takes its venue's row lock there, as late as it can (fynlo/commands/unit.py);
    - `translate(sqlstate, translation)`: if the unit of work ends in a server error of that
      SQLSTATE, raise what `translation(error)` returns instead (None: not ours, leave it);
    - `after_commit(step)`: run `step` once the transaction has committed, still in the
      worker thread; it may read results of statements sent before COMMIT;
    - `read_start`: when a command went on without waiting for its first statement's answer,
      reads it into `memo` (fynlo/commands/unit.py, `Tx.start`); None otherwise.

    `attempt` says which run of the unit of work this is (`_with_retries` sets it; 1 outside);
    `commit_sent`, whether its COMMIT has left for the server (then it may have committed).
    """

    attempt: int
    commit_sent: bool
    inflight: _InFlight | None
    memo: dict[str, Any]
    before_write: Callable[[], None] | None
    read_start: Callable[[], None] | None
    _translations: dict[str, list[Translation]]
    _after_commit: list[Callable[[], object]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cursor_factory = _Cursor
        self.inflight = None
        self.reset_unit()

    def reset_unit(self) -> None:
        self.attempt = 1
        self.commit_sent = False
        self.memo = {}
        self.before_write = None
        self.read_start = None
        self._translations = {}
        self._after_commit = []

    def translate(self, sqlstate: str, translation: Translation) -> None:
        self._translations.setdefault(sqlstate, []).append(translation)

    def after_commit(self, step: Callable[[], object]) -> None:
        self._after_commit.append(step)

    def translated(self, error: psycopg.Error) -> BaseException | None:
        """The domain's error for a server error of this unit of work, if one was declared."""
        for translation in self._translations.get(error.sqlstate or "", ()):
            mapped = translation(error)
            if mapped is not None:
                return mapped
        return None

    def committed(self) -> None:
        """The transaction committed: run the steps waiting for it, in order, and forget them."""
        steps, self._after_commit = self._after_commit, []
        for step in steps:
            step()

    def may_send(self) -> None:
        """Raise if the unit of work's caller has gone or its time is up (`_InFlight.check`)."""
        if self.inflight is not None:
            self.inflight.check()

    def ahead_of(self, query: Any, *, writes: bool = False) -> None:
        """Refuse to send `query` if the unit of work may send nothing more; call
        `before_write` if it is the transaction's first write."""
        self.may_send()
        hook = self.before_write
        if hook is None or (not writes and _reads_only(query, self)):
            return
        self.before_write = None
        hook()


def _reads_only(query: Any, conn: Connection) -> bool:
    if isinstance(query, psycopg.sql.Composable):
        text = query.as_string(conn)
    else:
        text = query.decode() if isinstance(query, bytes) else str(query)
    return _SELECT.match(text) is not None and _LOCKING.search(text) is None


class _Cursor(psycopg.Cursor[dict[str, Any]]):
    """A cursor that tells its connection before each statement (`Connection.ahead_of`)."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> "_Cursor":  # type: ignore[override]
        self._conn.ahead_of(query)  # type: ignore[attr-defined]
        return super().execute(query, params, **kwargs)

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self._conn.ahead_of(query, writes=True)  # type: ignore[attr-defined]
        super().executemany(query, params_seq, **kwargs)


class _InFlight:
    """The connection a worker thread is using, so a Trio cancel or the deadline can reach it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn: Connection | None = None
        self.due = float("inf")  # time.monotonic() past which the watchdog ends it
        self.cancelled = False
        self.expired = False

    @property
    def stopped(self) -> bool:
        return self.cancelled or self.expired

    @property
    def past_due(self) -> bool:
        """Its deadline has passed, whether or not the watchdog has been round yet."""
        return self.expired or time.monotonic() >= self.due

    def check(self) -> None:
        """Raise if the unit of work must send nothing more: its Trio caller was cancelled
        (it may not commit behind the caller's back) or its deadline passed."""
        if self.cancelled:
            raise _Abandoned
        if self.expired:
            raise _timed_out()

    def attach(self, conn: Connection) -> None:
        with self.lock:
            self.check()
            self.conn = conn
            conn.inflight = self

    def detach(self) -> None:
        with self.lock:
            if self.conn is not None:
                self.conn.inflight = None
            self.conn = None

    def cancel(self) -> None:
        """Ask the server to cancel the running query, if there is one. A request that fails
        (the server too slow to take it) leaves the query to end by itself; the worker then
        returns the connection, and the caller's cancellation stands either way."""
        with self.lock:
            self.cancelled = True
            if self.conn is not None:
                try:
                    self.conn.cancel_safe(timeout=2.0)
                except psycopg.Error as exc:
                    log.warning("could not cancel a query: %s", exc)

    def expire(self) -> int | None:
        """Past the deadline: shut the connection's socket down, so the worker thread, waiting
        on a server that does not answer, fails at once (a cancel request would not get
        through either); the pool discards the broken connection. Returns the server process
        of that connection, which may still hold the transaction's locks."""
        with self.lock:
            if self.stopped:
                return None
            self.expired = True
            if self.conn is None:
                return None
            try:  # the pid first: once the socket is down, the worker may close the connection
                pid = self.conn.info.backend_pid
                with socket.socket(fileno=os.dup(self.conn.pgconn.socket)) as sock:
                    sock.shutdown(socket.SHUT_RDWR)
            except (OSError, psycopg.Error):
                return None  # the connection was closed already: its server process is gone
            return pid


class _Watchdog:
    """A thread that ends every unit of work still running past its deadline. Under a network
    partition a query's bytes are neither answered nor refused, and the worker thread would
    wait as long as the kernel keeps the connection (docs/decisions.md, "The database from
    Trio"); a Trio timer cannot reach it, since the thread holds its connection either way.

    The server process on the far side may still hold the transaction's locks (the venue's
    row): it is ended through a fresh connection, which gets through when only the old one
    was lost; otherwise PostgreSQL ends it by its own timeouts (`Database`'s options)."""

    def __init__(self, url: str, deadline: float) -> None:
        self.url = url
        self.deadline = deadline
        self._units: set[_InFlight] = set()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fynlo-db-deadline", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def watch(self, unit: _InFlight) -> None:
        unit.due = time.monotonic() + self.deadline
        self._units.add(unit)

    def forget(self, unit: _InFlight) -> None:
        self._units.discard(unit)

    def _run(self) -> None:
        while not self._stopping.wait(min(0.5, self.deadline / 4)):
            now = time.monotonic()
            for unit in list(self._units):
                if unit.due < now and not unit.stopped:  # each unit is ended, and told of, once
                    log.warning("a unit of work ran past its %.1f s deadline; ending it", self.deadline)
                    pid = unit.expire()
                    if pid is not None:
                        threading.Thread(target=self._end_backend, args=(pid,), daemon=True).start()

    def _end_backend(self, pid: int) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=2) as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        except psycopg.Error as exc:
            log.warning("could not end the server process of a unit past its deadline: %s", exc)


# A deadlock or serialization failure rolled the whole transaction back: it is safe, and
# right, to run the unit of work again (it is a function of what it reads).
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
_ATTEMPTS = 3


class _Abandoned(Exception):
    """The Trio caller was cancelled before the unit of work committed: it sends nothing more."""


def _timed_out() -> Unavailable:
    return Unavailable("the database did not answer in time", reason="timeout")


class _LostBeforeCommit(Exception):
    """The connection broke before the unit of work sent COMMIT: nothing of it committed."""

    def __init__(self, error: psycopg.OperationalError) -> None:
        super().__init__(str(error))
        self.error = error


# TCP keepalives, the same on both ends of a connection (libpq's names; PostgreSQL's settings
# are these with a `tcp_` prefix): a peer gone silent is dropped about a minute after its last packet.
_KEEPALIVES = {"keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}

DEADLINE_S = 8.0  # a unit of work still waiting on PostgreSQL after this is ended (FYNLO_DB_DEADLINE)


class Database:
    """A psycopg connection pool that Trio code uses one transaction at a time."""

    def __init__(self, url: str, *, size: int = 10, connect_timeout: float = 5.0, deadline: float = DEADLINE_S) -> None:
        self.url = url
        self.size = size
        self._connect_timeout = connect_timeout
        deadline_ms = int(deadline * 1000)
        self._pool = ConnectionPool(
            url,
            min_size=size,
            max_size=size,
            open=False,
            timeout=connect_timeout,
            connection_class=Connection,
            kwargs={
                "row_factory": dict_row,
                # Transactions are begun and ended explicitly, never implicitly by psycopg: that
                # is what lets BEGIN ride in a pipeline with the first statement.
                "autocommit": True,
                # A row lock held by something stuck must not hold every pooled connection for
                # long, and a transaction whose client has gone quiet (a unit of work past its
                # deadline, behind a partition) must not keep its locks: PostgreSQL ends it,
                # idle in its transaction or, mid-pipeline, when its keepalives go unanswered.
                "options": " ".join([f"-c lock_timeout=5000 -c idle_in_transaction_session_timeout={deadline_ms}",
                                     *(f"-c tcp_{key}={value}" for key, value in _KEEPALIVES.items())]),
                # A connection the network dropped is found out by the kernel, not waited on.
                "connect_timeout": max(2, round(connect_timeout)),
                "keepalives": 1, **_KEEPALIVES,
                "tcp_user_timeout": deadline_ms,
            },
            name="fynlo",
        )
        self._limiter = trio.CapacityLimiter(size)
        self._watchdog = _Watchdog(url, deadline)

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, *, size: int = 10, deadline: float = DEADLINE_S) -> AsyncIterator["Database"]:
        db = cls(url, size=size, deadline=deadline)
        # wait=False: the pool fills in the background, so a server can start (and say it is
        # not ready) while the database is still down.
        await trio.to_thread.run_sync(lambda: db._pool.open(wait=False))
        db._watchdog.start()
        try:
            yield db
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(db._watchdog.stop)
                await trio.to_thread.run_sync(db._pool.close)

    async def run(self, work: Work[T], *, pipeline: bool = False) -> T:
        """Run `work(conn)` inside one transaction in a worker thread and return its result.

        The transaction commits when `work` returns and rolls back when it raises. Trio
        cancellation cancels the query on the server and frees the connection. With
        `pipeline`, statements are pipelined (see the module doc): an error may then surface
        at a later statement's result, or at COMMIT, rather than where it was sent.
        """
        inflight = _InFlight()
        transaction = _pipelined if pipeline else _plain

        def on_connection() -> T:
            # The deadline covers the wait for a connection too: under a partition every new
            # one waits out its connect timeout, and an idle one may be checked first.
            wait = min(self._connect_timeout, max(0.0, inflight.due - time.monotonic()))
            with self._pool.connection(timeout=wait) as conn:
                inflight.attach(conn)
                try:
                    return _with_retries(conn, work, transaction)
                finally:
                    inflight.detach()

        def in_thread() -> T:
            self._watchdog.watch(inflight)  # the deadline counts from here, not from the queue
            try:
                for attempt in range(1, _ATTEMPTS + 1):
                    try:
                        return on_connection()
                    except _LostBeforeCommit as lost:
                        if attempt < _ATTEMPTS and not inflight.stopped:
                            # PostgreSQL rolled the transaction back when the connection went; its
                            # idle siblings likely went with it (a restart, a network cut).
                            log.warning("a database connection was lost mid-transaction; running it again")
                            self._pool.check()
                            continue
                        raise _failed(lost.error, inflight) from lost.error
                    except psycopg.OperationalError as exc:  # psycopg_pool.PoolTimeout is one
                        raise _failed(exc, inflight) from exc
                raise AssertionError("unreachable")
            finally:
                self._watchdog.forget(inflight)

        try:
            return await trio.to_thread.run_sync(
                in_thread, limiter=self._limiter, abandon_on_cancel=True
            )
        except trio.Cancelled:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(inflight.cancel)
            raise

    async def ping(self) -> None:
        """Raise Unavailable unless a connection answers."""
        await self.run(lambda conn: conn.execute("SELECT 1").fetchone())


def _failed(error: psycopg.OperationalError, inflight: _InFlight) -> Exception:
    """What the caller hears of a unit of work that could not run to its end."""
    if inflight.cancelled:
        return _Abandoned()
    if inflight.past_due:  # a wait for a connection the deadline cut short is a timeout too
        return _timed_out()
    if error.sqlstate not in _RETRY_SQLSTATES:  # a PoolTimeout has none
        return Unavailable("the database is not reachable")
    return Unavailable("the database is too busy right now; retry", reason="contention")


Transaction = Callable[[Connection, Work[T]], T]


def _with_retries(conn: Connection, work: Work[T], transaction: Transaction[T]) -> T:
    """One transaction running `work`, run again when PostgreSQL rolled it back to break a
    deadlock or a serialization conflict (never for any other error)."""
    for attempt in range(1, _ATTEMPTS + 1):
        conn.reset_unit()
        conn.attempt = attempt
        try:
            return transaction(conn, work)
        except psycopg.errors.OperationalError as exc:
            if conn.broken and not conn.commit_sent:
                raise _LostBeforeCommit(exc) from exc
            if exc.sqlstate not in _RETRY_SQLSTATES or attempt == _ATTEMPTS:
                raise
        finally:
            conn.reset_unit()
    raise AssertionError("unreachable")


def _plain(conn: Connection, work: Work[T]) -> T:
    try:
        with conn.transaction():
            result = work(conn)
            conn.may_send()
            conn.commit_sent = True
    except psycopg.Error as exc:
        _raise_translated(conn, exc)
        raise
    conn.committed()
    return result


def _pipelined(conn: Connection, work: Work[T]) -> T:
    try:
        with conn.pipeline():
            conn.execute("BEGIN")
            result = work(conn)
            conn.before_write = None  # COMMIT is no write to take the venue for
            conn.commit_sent = True
            conn.execute("COMMIT")
    except BaseException as exc:
        if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
            # A connection that cannot even roll back is discarded by the pool.
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
        if isinstance(exc, psycopg.Error):
            _raise_translated(conn, exc)
        raise
    conn.committed()  # leaving the pipeline read COMMIT's answer: committed
    return result


def _raise_translated(conn: Connection, exc: psycopg.Error) -> None:
    """Raise `exc` as the unit of work declared it (`Connection.translate`), if it did."""
    mapped = conn.translated(exc)
    if mapped is not None:
        raise mapped from exc
