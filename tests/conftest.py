"""Shared fixtures: a real PostgreSQL database per test session, a real Redis.

FYNLO_TEST_DATABASE_URL names a server (any database on it); each session creates its own
database there, migrates it, and drops it at the end, so parallel runs never meet.
FYNLO_TEST_REDIS_URL names a Redis; tests isolate themselves with a per-test key namespace.
A missing service fails the run: these tests never skip to a fake.
"""

from __future__ import annotations

import os
import uuid
from typing import AsyncIterator, Iterator

import psycopg
import pytest
from psycopg import sql

from fynlo.db import Database, apply_migrations

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def _with_dbname(url: str, dbname: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    admin = os.environ.get("FYNLO_TEST_DATABASE_URL", DEFAULT_DB)
    name = f"fynlo_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required (FYNLO_TEST_DATABASE_URL={admin}): {exc}", pytrace=False)
    url = _with_dbname(admin, name)
    apply_migrations(url)
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    async with Database.open(database_url, size=4) as database:
        yield database


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("FYNLO_TEST_REDIS_URL", DEFAULT_REDIS)
    import socket
    from urllib.parse import urlparse

    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=3).close()
    except OSError as exc:
        pytest.fail(f"Redis is required (FYNLO_TEST_REDIS_URL={url}): {exc}", pytrace=False)
    return url


@pytest.fixture
def namespace() -> str:
    """A key/channel prefix unique to this test, so runs sharing one Redis never meet."""
    return f"fynlo-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings():  # type: ignore[no-untyped-def]
    from tests.support import make_settings

    return make_settings()


@pytest.fixture
async def kit(db: Database, settings):  # type: ignore[no-untyped-def]
    """A fresh venue with one person of each role and a registered terminal."""
    from tests.support import make_venue

    return await make_venue(db, settings)


@pytest.fixture
async def server(database_url: str, settings) -> AsyncIterator[str]:  # type: ignore[no-untyped-def]
    """A real server on a free loopback port (in-process bus); yields its base URL."""
    from tests.support import running_server

    async with running_server(settings, database_url) as base_url:
        yield base_url


@pytest.fixture
async def venue(db: Database, kit):  # type: ignore[no-untyped-def]
    """The kit's venue with the demo menu and floor."""
    from tests.support import with_menu

    return await with_menu(db, kit)


@pytest.fixture
async def pay(database_url: str, settings):  # type: ignore[no-untyped-def]
    """A server wired to the Stripe fake and the simulated bank (tests/payment_kit.py)."""
    from tests.payment_kit import payments_server

    async with payments_server(settings, database_url) as payments:
        yield payments
