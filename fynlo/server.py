"""Start the whole server in one Trio run: database, bus, venue host, socket hub, HTTP."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from contextlib import asynccontextmanager
from functools import partial
from typing import AsyncIterator, Awaitable, Callable

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

import fynlo.commands.catalog  # noqa: F401  (registers every command)
from fynlo.bus import open_bus
from fynlo.commands.dispatch import Dispatcher
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.payments.providers import open_providers
from fynlo.payments.sweep import run_sweeps
from fynlo.ratelimit import open_rate_limiter
from fynlo.runtime.host import VenueHost
from fynlo.web.app import create_app
from fynlo.web.context import Services
from fynlo.web.hub import Hub

log = logging.getLogger("fynlo.server")


@asynccontextmanager
async def running_services(settings: Settings, database_url: str) -> AsyncIterator[Services]:
    """Everything but the HTTP listener, started in order and stopped in reverse."""
    async with (
        Database.open(database_url, size=settings.db_pool_size, deadline=settings.db_deadline_s) as db,
        Database.open(database_url, size=1, deadline=settings.db_deadline_s) as lease_db,
        open_bus(settings.redis_url, settings.redis_namespace) as bus,
        open_rate_limiter(settings.redis_url, settings.redis_namespace) as limiter,
        open_providers(settings) as providers,
        trio.open_nursery() as nursery,
    ):
        svc = Services(settings=settings, db=db, bus=bus, limiter=limiter)
        host = VenueHost(db, bus, settings, address=f"http://{settings.host}:{settings.port}", lease_db=lease_db)
        hub = Hub(db, bus)
        await nursery.start(hub.run)
        await nursery.start(host.run)
        dispatcher = Dispatcher(db, host, providers)
        await nursery.start(partial(run_sweeps, db, host, dispatcher))
        svc.extras.update(host=host, hub=hub, dispatcher=dispatcher, providers=providers)
        yield svc
        nursery.cancel_scope.cancel()


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.websocket_max_message_size = settings.max_frame_bytes
    config.accesslog = None
    config.errorlog = None  # our own JSON "listening" line says it
    config.graceful_timeout = 3.0
    return config


async def serve_forever(settings: Settings, database_url: str, *, settle: bool = False,
                        task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve until cancelled; `task_status.started` gets the bound addresses. `settle`: the
    process is this server's own (`fynlo serve`, the demo), so its heap is settled once it
    listens (`settle_heap`); a test's process is not."""
    async with running_services(settings, database_url) as svc, trio.open_nursery() as nursery:
        app = create_app(svc)
        binds = await nursery.start(partial(serve, app, hypercorn_config(settings)))  # type: ignore[arg-type]
        log.info("listening", extra={"url": binds[0]})
        if settle:
            settle_heap()
        task_status.started(binds)


def settle_heap() -> None:
    """Move what start-up built (modules, classes, the app, the pools) out of the collector's
    sight, so that a full collection scans only what the running server allocates.

    Python's full collection walks every tracked object while holding the GIL: with the
    ~130 000 objects the imports leave, each one stalled the whole server for 40–70 ms, every
    command in flight included (docs/performance.md, "Garbage collection"). Frozen objects are
    still freed by reference counting; only a cycle among them would never be collected, and
    what start-up builds lives as long as the process.
    """
    gc.collect()
    gc.freeze()


async def run_until_stopped(main: Callable[[], Awaitable[object]]) -> None:
    """Run `main` until it returns, Ctrl-C, or SIGTERM (docker stop, systemd), which shuts
    everything down as cleanly as Ctrl-C does."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_stop_on_sigterm, nursery.cancel_scope)
        await main()
        nursery.cancel_scope.cancel()


async def _stop_on_sigterm(scope: trio.CancelScope) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        async for _ in signals:
            log.info("SIGTERM: shutting down")
            scope.cancel()
            return
