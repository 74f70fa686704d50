"""The one place worker threads meet Trio.

psycopg 3's synchronous pool, driven from Trio: a whole unit of work (one transaction) is one
function run in a worker thread under a CapacityLimiter sized to the pool, so a thread is never
left waiting for a connection. psycopg's async API needs asyncio, which is why (see
docs/decisions.md). When Trio cancels a call, the running query is cancelled on the server
(`conn.cancel_safe()`, run outside the limiter so it cannot deadlock when every slot is taken)
and the connection goes back to the pool at once.
"""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, TypeVar

import psycopg
import trio
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from fynlo.errors import Unavailable

T = TypeVar("T")
Connection = psycopg.Connection[dict]  # rows come back as dicts
Work = Callable[[Connection], T]


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
        with self.lock:
            self.cancelled = True
            if self.conn is not None:
                self.conn.cancel_safe(timeout=2.0)


# A deadlock or serialization failure rolled the whole transaction back: it is safe, and
# right, to run the unit of work again (it is a function of what it reads).
_RETRY_SQLSTATES = frozenset({"40001", "40P01"})
_ATTEMPTS = 3


class _Abandoned(Exception):
    """The Trio caller was cancelled before the worker got a connection."""


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
            # A row lock held by something stuck must not hold every pooled connection for long.
            kwargs={"row_factory": dict_row, "autocommit": False, "options": "-c lock_timeout=5000"},
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

    async def run(self, work: Work[T]) -> T:
        """Run `work(conn)` inside one transaction in a worker thread and return its result.

        The transaction commits when `work` returns and rolls back when it raises. Trio
        cancellation cancels the query on the server and frees the connection.
        """
        inflight = _InFlight()

        def in_thread() -> T:
            try:
                with self._pool.connection() as conn:
                    inflight.attach(conn)
                    try:
                        return _transaction(conn, work)
                    finally:
                        inflight.detach()
            except PoolTimeout:
                raise Unavailable("the database is not reachable") from None
            except psycopg.OperationalError as exc:
                if inflight.cancelled:
                    raise _Abandoned from exc
                if exc.sqlstate in _RETRY_SQLSTATES:
                    raise Unavailable("the database is too busy right now; retry", reason="contention") from exc
                raise Unavailable("the database is not reachable") from exc

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


def _transaction(conn: Connection, work: Work[T]) -> T:
    """One transaction running `work`, run again when PostgreSQL rolled it back to break a
    deadlock or a serialization conflict (never for any other error)."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with conn.transaction():
                return work(conn)
        except psycopg.errors.OperationalError as exc:
            if exc.sqlstate not in _RETRY_SQLSTATES or attempt == _ATTEMPTS:
                raise
    raise AssertionError("unreachable")
