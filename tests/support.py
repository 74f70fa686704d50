"""Test helpers: a venue with its staff, a real server on a free port."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, AsyncIterator

import trio

from fynlo.auth.staff import create_staff
from fynlo.auth.terminals import register_terminal
from fynlo.auth.tokens import mint_access
from fynlo.config import Settings
from fynlo.db import Database

SECRET = "test-secret-key-for-fynlo-tests-only"


def make_settings(**changes: object) -> Settings:
    base = Settings(secret_key=SECRET, port=0, lease_ttl_s=3.0, lease_renew_s=0.5, ask_timeout_s=5.0,
                    instance_name=f"test-{uuid.uuid4().hex[:6]}")
    return replace(base, **changes)  # type: ignore[arg-type]


@dataclass
class Person:
    staff_id: str
    role: str
    pin: str
    token: str


@dataclass
class VenueKit:
    venue_id: str
    terminal_id: str
    terminal_token: str
    people: dict[str, Person] = field(default_factory=dict)

    def token(self, role: str) -> str:
        return self.people[role].token


async def make_venue(db: Database, settings: Settings, name: str = "Test Venue") -> VenueKit:
    """A venue with an owner, a manager, a staff member, a kitchen account and one terminal."""
    venue_id = str(uuid.uuid4())
    pins = {"owner": "9001", "manager": "1001", "staff": "2001", "kitchen": "3001"}

    def work(conn):  # type: ignore[no-untyped-def]
        conn.execute("INSERT INTO venues (id, name) VALUES (%s, %s)", (venue_id, name))
        ids = {role: create_staff(conn, settings, venue_id, name=f"{role} one", role=role, pin=pin)
               for role, pin in pins.items()}
        terminal_id, terminal_token = register_terminal(conn, venue_id, "Till 1", ids["manager"])
        return ids, terminal_id, terminal_token

    ids, terminal_id, terminal_token = await db.run(work)
    kit = VenueKit(venue_id, terminal_id, terminal_token)
    for role, staff_id in ids.items():
        token, _ = mint_access(settings, staff_id=staff_id, venue_id=venue_id, role=role,
                               terminal_id=terminal_id, family_id=None)
        kit.people[role] = Person(staff_id, role, pins[role], token)
    return kit


@asynccontextmanager
async def running_server(settings: Settings, database_url: str) -> AsyncIterator[str]:
    """Serve on a free loopback port; yield the base URL (http://127.0.0.1:PORT)."""
    from fynlo.server import serve_forever

    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve_forever, settings, database_url)
        yield binds[0]
        nursery.cancel_scope.cancel()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def server_process(database_url: str, *, instance: str, redis_url: str | None = None,
                         redis_namespace: str = "fynlo",
                         env: dict[str, str] | None = None) -> AsyncIterator[tuple[str, trio.Process]]:
    """`fynlo serve` as a separate process (so a test can kill -9 it); yield its URL and process."""
    import os
    import sys

    import httpx

    port = free_port()
    env = {**os.environ, "FYNLO_DATABASE_URL": database_url, "FYNLO_PORT": str(port),
           "FYNLO_SECRET_KEY": SECRET, "FYNLO_INSTANCE_NAME": instance, "FYNLO_LOG_LEVEL": "WARNING", **(env or {})}
    if redis_url:
        env["FYNLO_REDIS_URL"] = redis_url
        env["FYNLO_REDIS_NAMESPACE"] = redis_namespace
    proc = await trio.lowlevel.open_process([sys.executable, "-m", "fynlo", "serve"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        with trio.fail_after(30):
            async with httpx.AsyncClient(base_url=base) as http:
                while True:
                    try:
                        if (await http.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if proc.returncode is not None:
                        raise RuntimeError(f"fynlo serve exited with {proc.returncode}")
                    await trio.sleep(0.1)
        yield base, proc
    finally:
        if proc.returncode is None:
            proc.kill()
        with trio.CancelScope(shield=True):
            await proc.wait()


async def kill_bus_connections(admin: Any, namespace: str, kind: Any) -> int:
    """Cut the Redis connections of `kind` belonging to the bus of `namespace`, server-side
    (never other test runs' connections on the same Redis)."""
    killed = 0
    for client in await admin.client_list(type_=kind):
        if client["name"] == f"{namespace}-bus":
            killed += int(await admin.client_kill(identifier=int(client["id"])))
    return killed


async def with_menu(db: Database, kit: VenueKit) -> VenueKit:
    """Give the kit's venue the demo menu and floor plan."""
    from fynlo.demo_menu import seed_floor, seed_menu

    def work(conn):  # type: ignore[no-untyped-def]
        seed_menu(conn, kit.venue_id)
        seed_floor(conn, kit.venue_id)

    await db.run(work)
    return kit


def ref(kit: VenueKit, kind: str, *name: str) -> str:
    """The id of a seeded thing by name: ref(kit, "item", "Chips"), ref(kit, "option", "Cooking", "Rare")."""
    from fynlo.demo_menu import seed_id

    return seed_id(kit.venue_id, kind, *name)


def new_id() -> str:
    return str(uuid.uuid4())
