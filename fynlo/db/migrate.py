"""Numbered SQL migrations (`migrations/NNNN_name.sql`), applied in order, each in its own
transaction, under an advisory lock so two processes starting together apply each once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import psycopg

_LOCK_ID = 0x66796E6C6F  # "fynlo"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    found = []
    for entry in resources.files("fynlo.db.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return found


def _applied(conn: psycopg.Connection) -> set[int]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version int PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    return {row[0] if isinstance(row, tuple) else row["version"]
            for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}


def apply_migrations(url: str) -> list[str]:
    """Apply what is missing; return the names applied."""
    done: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            applied = _applied(conn)
            for migration in available():
                if migration.version in applied:
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                done.append(migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return done


def pending_migrations(conn: psycopg.Connection) -> list[str]:
    """Names of migrations this code has that the database lacks (for /readyz)."""
    row = conn.execute("SELECT to_regclass('schema_migrations') AS t").fetchone()
    table = row["t"] if isinstance(row, dict) else row[0]
    if table is None:
        return [m.name for m in available()]
    rows = conn.execute("SELECT version FROM schema_migrations").fetchall()
    have = {r["version"] if isinstance(r, dict) else r[0] for r in rows}
    return [m.name for m in available() if m.version not in have]
