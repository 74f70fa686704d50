"""Serving a simulated third party (Stripe, a bank) on loopback, inside the caller's Trio run."""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import partial
from typing import AsyncIterator

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart_trio import QuartTrio


@asynccontextmanager
async def serving(app: QuartTrio, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve `app` until the block ends; yields its base URL (`http://127.0.0.1:<port>`)."""
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 0.5
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(serve, app, config))  # type: ignore[arg-type]
        yield str(binds[0])
        nursery.cancel_scope.cancel()
