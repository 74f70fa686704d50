"""The durable local record of every job the bridge holds: what "printed once" rests on.

A job moves ``received`` → ``printing`` → ``printed`` | ``failed`` | ``unknown``, and every
move is committed (WAL, ``synchronous=FULL``) before the bridge acts on it:

* a job id is inserted once, so a job delivered twice (a replay, a reconnect, ``job.pending``
  answering what we already have) is printed once;
* a job is ``printing`` on disk *before* its first byte leaves for a printer, so a bridge that
  dies mid-job finds it ``printing`` when it starts again and marks it ``unknown``: it may be
  on paper, so it must never go to a printer again as an original (the server reprints
  kitchen tickets as a marked COPY; receipts wait for a person's ``job.reprint``);
* a job whose bytes may have gone out to a printer that then failed, while the bridge lived,
  goes back to ``received`` with ``as_copy`` set: it keeps its place in line, and whatever
  printer takes it next prints a marked COPY.

``reported`` is the last status the server acknowledged, so outcomes are re-sent after a
reconnect until the server has them. One connection serves every call, in Trio worker
threads, one at a time; a call in flight finishes even if its caller is cancelled (Trio does
not abandon the thread), so no state change is half-made.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import trio

from bridge._job import FINAL, JobState, SpooledJob, WireJob, job_from_row
from bridge.errors import SpoolLocked

__all__ = ["Spool"]

T = TypeVar("T")
KEEP_FINISHED = timedelta(days=7)   # longer than any replay window: dedupe still holds

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order: each printer prints in it
    job_id      TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    station     TEXT NOT NULL,
    order_id    TEXT,
    copy        INTEGER NOT NULL,                   -- the server made it a COPY (a reprint)
    document    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'received',
    as_copy     INTEGER NOT NULL DEFAULT 0,         -- an earlier attempt may be on paper
    device      TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT '',
    reported    TEXT,                               -- last status the server acknowledged
    received_at TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Spool:
    """The spool file, open. Make one with ``Spool.open(path)``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._limiter = trio.CapacityLimiter(1)
        self.recovered: list[SpooledJob] = []   # jobs found mid-print at open, now ``unknown``

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[Spool]:
        """Open (or create) the spool, recover what a crash left behind, and close it on exit.

        Raises:
            SpoolLocked: another bridge process has this spool open.
        Cancellation: the file is closed on the way out; committed state is never lost.
        """
        conn = await trio.to_thread.run_sync(_connect, path)
        spool = cls(conn)
        try:
            spool.recovered = await spool._run(_recover)
            yield spool
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(conn.close)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await trio.to_thread.run_sync(_transaction, self._conn, fn, limiter=self._limiter)

    async def add(self, jobs: Iterable[WireJob]) -> list[SpooledJob]:
        """Take jobs as ``job.pending`` lists them; return only those not seen before."""
        rows = [job.values() for job in jobs]

        def work(conn: sqlite3.Connection) -> list[SpooledJob]:
            added = []
            for row in rows:
                now = _now()
                cur = conn.execute(
                    "INSERT OR IGNORE INTO jobs (job_id, kind, station, order_id, copy, document, created_at,"
                    " received_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (*row, now, now))
                if cur.rowcount:
                    added.append(_get(conn, row[0]))
            return added

        return await self._run(work)

    async def get(self, job_id: str) -> SpooledJob:
        return await self._run(lambda conn: _get(conn, job_id))

    async def waiting(self) -> list[SpooledJob]:
        """Every ``received`` job, in arrival order: what the printers have still to do."""
        return await self._run(lambda conn: [job_from_row(r) for r in conn.execute(
            "SELECT * FROM jobs WHERE state = 'received' ORDER BY position")])

    async def claim(self, job_id: str, device: str) -> SpooledJob | None:
        """Mark a ``received`` job ``printing`` on ``device``; None if it is not ``received``
        any more (another printer took it). Committed before this returns: call it first,
        then send the bytes."""
        def work(conn: sqlite3.Connection) -> SpooledJob | None:
            cur = conn.execute(
                "UPDATE jobs SET state = 'printing', device = ?, attempts = attempts + 1, updated_at = ?"
                " WHERE job_id = ? AND state = 'received'", (device, _now(), job_id))
            return _get(conn, job_id) if cur.rowcount else None

        return await self._run(work)

    async def release(self, job_id: str, detail: str, *, maybe_sent: bool) -> None:
        """A ``printing`` job goes back in line after a failed attempt; if any of it may be on
        paper (``maybe_sent``), it may only ever come out again as a marked COPY."""
        await self._run(lambda conn: conn.execute(   # the detail says why it must be a COPY, once it must
            "UPDATE jobs SET state = 'received', detail = CASE WHEN ? OR NOT as_copy THEN ? ELSE detail END,"
            " as_copy = as_copy OR ?, updated_at = ? WHERE job_id = ? AND state = 'printing'",
            (maybe_sent, detail, maybe_sent, _now(), job_id)))

    async def finish(self, job_id: str, state: JobState, detail: str = "", device: str | None = None) -> None:
        """Record a job's final outcome (printed, failed or unknown)."""
        if state not in FINAL:
            raise ValueError(f"{state} is not a final state")
        await self._run(lambda conn: conn.execute(
            "UPDATE jobs SET state = ?, detail = ?, device = COALESCE(?, device), updated_at = ?"
            " WHERE job_id = ? AND state IN ('received', 'printing')", (state, detail, device, _now(), job_id)))

    async def unreported(self) -> list[SpooledJob]:
        """Jobs whose current status the server has not yet acknowledged, oldest first."""
        return await self._run(lambda conn: [j for j in (job_from_row(r) for r in conn.execute(
            "SELECT * FROM jobs WHERE reported IS NULL OR reported != state ORDER BY position"))
            if j.report_status != j.reported])

    async def mark_reported(self, job_id: str, status: str) -> None:
        await self._run(lambda conn: conn.execute(
            "UPDATE jobs SET reported = ? WHERE job_id = ?", (status, job_id)))

    async def last_seq(self) -> int | None:
        """The last venue event seq the bridge saw (None before its first connection)."""
        row = await self._run(lambda conn: conn.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone())
        return None if row is None else int(row[0])

    async def save_last_seq(self, seq: int) -> None:
        await self._run(lambda conn: conn.execute(
            "INSERT INTO meta (key, value) VALUES ('last_seq', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(seq),)))


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=0.5)
    conn.row_factory = sqlite3.Row
    try:
        # EXCLUSIVE: a second bridge on the same file would print every job twice.
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("BEGIN IMMEDIATE")   # take the lock now, not at the first job
        conn.execute("COMMIT")
        conn.executescript(_SCHEMA)
    except sqlite3.OperationalError as exc:
        conn.close()
        if "locked" in str(exc):
            raise SpoolLocked(f"{path} is in use by another bridge") from None
        raise
    return conn


def _transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _get(conn: sqlite3.Connection, job_id: str) -> SpooledJob:
    row = conn.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    if row is None:
        raise KeyError(job_id)
    return job_from_row(row)


def _recover(conn: sqlite3.Connection) -> list[SpooledJob]:
    """Whatever was ``printing`` when the last bridge stopped is ``unknown`` now; old, settled
    jobs are forgotten."""
    stuck = [job_from_row(r) for r in conn.execute("SELECT * FROM jobs WHERE state = 'printing' ORDER BY position")]
    for job in stuck:
        conn.execute("UPDATE jobs SET state = 'unknown', detail = ?, updated_at = ? WHERE job_id = ?",
                     (f"the bridge stopped while sending it to {job.device}; it may have printed", _now(), job.job_id))
    cutoff = (datetime.now(UTC) - KEEP_FINISHED).isoformat()
    conn.execute("DELETE FROM jobs WHERE state IN ('printed', 'failed', 'unknown') AND reported = state"
                 " AND updated_at < ?", (cutoff,))
    return [_get(conn, job.job_id) for job in stuck]

