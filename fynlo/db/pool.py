"""The one place worker threads meet Trio.

psycopg 3's synchronous pool, driven from Trio: a whole unit of work (one transaction) is one
function run in a worker thread under a CapacityLimiter sized to the pool, so a thread is never
left waiting for a connection. psycopg's async API needs asyncio, which is why (see
docs/decisions.md). When Trio cancels a call, the running query is cancelled on the server
(`conn.cancel_safe()`, run outside the limiter so it cannot deadlock when every slot is taken)
and the connection goes back to the pool at once. A unit of work whose connection broke before
its COMMIT left runs again on a fresh connection (PostgreSQL rolled it back; docs/decisions.md).

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
import re
import threading
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
    memo: dict[str, Any]
    before_write: Callable[[], None] | None
    read_start: Callable[[], None] | None
    _translations: dict[str, list[Translation]]
    _after_commit: list[Callable[[], object]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cursor_factory = _Cursor
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

    def ahead_of(self, query: Any, *, writes: bool = False) -> None:
        """Call `before_write` if `query` is the transaction's first write."""
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
    """The connection a worker thread is using, so a Trio cancel can reach its query."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn: Connection | None = None
        self.cancelled = False

    def attach(self, conn: Connection) -> None:
        with self.lock:
            if self.cancelled:
                raise _Abandoned
            self.conn = conn

    def detach(self) -> None:
        with self.lock:
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


# A deadlock or serialization failure rolled the whole transaction back: it is safe, and
# right, to run the unit of work again (it is a function of what it reads).
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
_ATTEMPTS = 3


class _Abandoned(Exception):
    """The Trio caller was cancelled before the worker got a connection."""


class _LostBeforeCommit(Exception):
    """The connection broke before the unit of work sent COMMIT: nothing of it committed."""

    def __init__(self, error: psycopg.OperationalError) -> None:
        super().__init__(str(error))
        self.error = error


class Database:
    """A psycopg connection pool that Trio code uses one transaction at a time."""

    def __init__(self, url: str, *, size: int = 10, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.size = size
        self._pool = ConnectionPool(
            url,
            min_size=size,
            max_size=size,
            open=False,
            timeout=connect_timeout,
            connection_class=Connection,
            # Transactions are begun and ended explicitly, never implicitly by psycopg: that
            # is what lets BEGIN ride in a pipeline with the first statement. A row lock held
            # by something stuck must not hold every pooled connection for long.
            kwargs={"row_factory": dict_row, "autocommit": True, "options": "-c lock_timeout=5000"},
            name="fynlo",
        )
        self._limiter = trio.CapacityLimiter(size)

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, *, size: int = 10) -> AsyncIterator["Database"]:
        db = cls(url, size=size)
        # wait=False: the pool fills in the background, so a server can start (and say it is
        # not ready) while the database is still down.
        await trio.to_thread.run_sync(lambda: db._pool.open(wait=False))
        try:
            yield db
        finally:
            with trio.CancelScope(shield=True):
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
            with self._pool.connection() as conn:
                inflight.attach(conn)
                try:
                    return _with_retries(conn, work, transaction)
                finally:
                    inflight.detach()

        def in_thread() -> T:
            for attempt in range(1, _ATTEMPTS + 1):
                try:
                    return on_connection()
                except _LostBeforeCommit as lost:
                    if attempt < _ATTEMPTS and not inflight.cancelled:
                        # PostgreSQL rolled the transaction back when the connection went; its
                        # idle siblings likely went with it (a restart, a network cut).
                        log.warning("a database connection was lost mid-transaction; running it again")
                        self._pool.check()
                        continue
                    raise _failed(lost.error, inflight) from lost.error
                except psycopg.OperationalError as exc:  # psycopg_pool.PoolTimeout is one
                    raise _failed(exc, inflight) from exc
            raise AssertionError("unreachable")

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
