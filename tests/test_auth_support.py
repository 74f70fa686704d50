"""Shared helpers for the auth tests: a venue of their own per test, staff, terminals, an app.

Each test makes its own venue, so tests never see each other's staff, PINs or lockouts. The
`settings` fixture (tests/conftest.py) carries a test secret key.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator

from fynlo.auth.staff import create_staff
from fynlo.auth.terminals import register_terminal
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.ratelimit import MemoryRateLimiter
from fynlo.web.app import create_app
from fynlo.web.context import Services

if TYPE_CHECKING:
    from quart.typing import TestClientProtocol

PASSWORD = "correct horse battery"


async def new_venue(db: Database, name: str = "Test venue") -> str:
    venue_id = str(uuid.uuid4())
    await db.run(lambda conn: conn.execute("INSERT INTO venues (id, name) VALUES (%s, %s)", (venue_id, name)))
    return venue_id


async def add_staff(db: Database, settings: Settings, venue_id: str, role: str = "staff", **kw: Any) -> str:
    kw.setdefault("name", f"{role} {uuid.uuid4().hex[:4]}")
    return await db.run(lambda conn: create_staff(conn, settings, venue_id, role=role, **kw))


async def add_terminal(db: Database, venue_id: str, created_by: str | None = None) -> tuple[str, str]:
    return await db.run(lambda conn: register_terminal(conn, venue_id, "Till", created_by))


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


@asynccontextmanager
async def app_client(db: Database, settings: Settings) -> AsyncIterator[TestClientProtocol]:
    """The real app factory over the test database, a fresh in-memory rate limiter."""
    app = create_app(Services(settings=settings, db=db, bus=None, limiter=MemoryRateLimiter()))  # type: ignore[arg-type]
    async with app.test_app() as test_app:
        yield test_app.test_client()


async def events_named(db: Database, venue_id: str, name: str) -> list[dict[str, Any]]:
    return await db.run(
        lambda conn: conn.execute(
            "SELECT seq, data, by_staff FROM events WHERE venue_id = %s AND name = %s ORDER BY seq", (venue_id, name)
        ).fetchall()
    )
