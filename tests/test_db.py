import time

import pytest
import trio

from fynlo.db import Database, pending_migrations


async def test_migrations_applied(db: Database) -> None:
    assert await db.run(pending_migrations) == []


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
