import threading
import time
import uuid

import pytest
import trio

from fynlo.db import Database, pending_migrations
from fynlo.db.pool import Connection


async def test_migrations_applied(db: Database) -> None:
    assert await db.run(pending_migrations) == []


async def test_large_documents_are_stored_with_lz4_where_postgresql_has_it(db: Database) -> None:
    def work(conn: Connection) -> tuple[bool, dict[str, str]]:
        has_lz4 = conn.execute(
            "SELECT 'lz4' = ANY (enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'"
        ).fetchone()["lz4"]
        rows = conn.execute(
            "SELECT c.relname || '.' || a.attname AS col, a.attcompression AS how FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid"
            " WHERE (c.relname, a.attname) IN (('events', 'data'), ('idempotency', 'reply'),"
            " ('kitchen_tickets', 'lines'), ('print_jobs', 'document'), ('z_reports', 'data'))"
        ).fetchall()
        return has_lz4, {r["col"]: r["how"] for r in rows}

    has_lz4, columns = await db.run(work)
    assert len(columns) == 5
    # 'l' is lz4; '' is the server's default (pglz), kept where PostgreSQL was built without lz4.
    assert set(columns.values()) == ({"l"} if has_lz4 else {""})


async def test_failed_work_rolls_back(db: Database) -> None:
    import uuid

    vid = uuid.uuid4()

    def work(conn):
        conn.execute("INSERT INTO venues (id, name) VALUES (%s, 'x')", (vid,))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await db.run(work)
    row = await db.run(lambda c: c.execute("SELECT count(*) AS n FROM venues WHERE id=%s", (vid,)).fetchone())
    assert row["n"] == 0


async def test_cancelled_query_frees_its_connection_at_once(database_url: str) -> None:
    async with Database.open(database_url, size=1) as db:
        started = time.monotonic()
        with trio.move_on_after(0.3):
            await db.run(lambda c: c.execute("SELECT pg_sleep(10)"))
        assert time.monotonic() - started < 2.5
        # the one connection in the pool answers again straight away
        with trio.fail_after(2):
            row = await db.run(lambda c: c.execute("SELECT 42 AS v").fetchone())
        assert row["v"] == 42


async def test_a_cancel_request_that_fails_leaves_the_cancellation_and_the_connection(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server too slow to take the cancel request: the caller is still just cancelled, and
    the query, left to end by itself, gives its connection back to the pool."""
    import psycopg

    def refused(self: Connection, timeout: float = 30.0) -> None:
        raise psycopg.errors.CancellationTimeout("cancellation timeout expired")

    monkeypatch.setattr(Connection, "cancel_safe", refused)
    async with Database.open(database_url, size=1) as db:
        with trio.move_on_after(0.2) as scope:
            await db.run(lambda c: c.execute("SELECT pg_sleep(0.6)"))
        assert scope.cancelled_caught
        with trio.fail_after(3):
            row = await db.run(lambda c: c.execute("SELECT 42 AS v").fetchone())
        assert row["v"] == 42


async def test_a_deadlocked_transaction_is_run_again(db: Database) -> None:
    import psycopg

    attempts: list[int] = []

    def work(conn):  # type: ignore[no-untyped-def]
        attempts.append(1)
        conn.execute("SELECT 1")
        if len(attempts) == 1:
            raise psycopg.errors.DeadlockDetected("chosen as the deadlock victim")
        return "done"

    assert await db.run(work) == "done"
    assert len(attempts) == 2


async def test_other_database_errors_are_not_retried(db: Database) -> None:
    import psycopg

    attempts: list[int] = []

    def work(conn):  # type: ignore[no-untyped-def]
        attempts.append(1)
        conn.execute("SELECT * FROM no_such_table")

    with pytest.raises(psycopg.errors.UndefinedTable):
        await db.run(work)
    assert len(attempts) == 1


@pytest.mark.parametrize("pipeline", [False, True])
async def test_a_unit_of_work_whose_caller_is_cancelled_between_statements_commits_nothing(
        db: Database, pipeline: bool) -> None:
    """The thread goes on after Trio abandons it; with no query running, the cancel request has
    nothing to stop, so the unit itself must send nothing more, COMMIT least of all."""
    await db.run(lambda c: c.execute("CREATE TABLE IF NOT EXISTS abandoned_marks (tag text NOT NULL)"))
    tag = str(uuid.uuid4())
    finished = threading.Event()
    cancel_scope = trio.CancelScope()

    def work(conn: Connection) -> None:
        try:
            conn.execute("INSERT INTO abandoned_marks (tag) VALUES (%s) RETURNING tag", (tag,)).fetchone()
            trio.from_thread.run_sync(cancel_scope.cancel)
            time.sleep(0.3)  # Python between two statements: the caller has been cancelled meanwhile
            conn.execute("INSERT INTO abandoned_marks (tag) VALUES (%s)", (tag,))
        finally:
            finished.set()

    with cancel_scope:
        await db.run(work, pipeline=pipeline)
    assert cancel_scope.cancelled_caught
    await trio.to_thread.run_sync(finished.wait)
    await trio.sleep(0.2)  # the abandoned thread ends its transaction
    row = await db.run(lambda c: c.execute("SELECT count(*) AS n FROM abandoned_marks WHERE tag = %s", (tag,)).fetchone())
    assert row["n"] == 0
