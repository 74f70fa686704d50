"""A venue's running side in this process: its actors, under one supervisor, and its publisher.

The actors' registry is the venue's supervisor. When its restart budget is spent the venue is
marked degraded (on /healthz), the registry is reopened after a pause, and the rest of the
process carries on: one venue's trouble never makes the process unready.
"""

from __future__ import annotations

import logging
from typing import Any, Hashable

import trio

from actors import Registry, RestartBudgetExceeded, RestartPolicy
from fynlo.bus import EventBus
from fynlo.commands.unit import VenueCache
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.errors import Unavailable
from fynlo.runtime.entity import EntityActor, Envelope
from fynlo.runtime.publisher import Publisher

log = logging.getLogger("fynlo.venue")

DEGRADED_FOR_S = 60.0
REOPEN_AFTER_S = 1.0


class VenueRuntime:
    def __init__(self, venue_id: str, *, db: Database, bus: EventBus, settings: Settings,
                 lease_owner: str, policy: RestartPolicy | None = None) -> None:
        self.venue_id = venue_id
        self.db = db
        self.settings = settings
        self.lease_owner = lease_owner
        self.publisher = Publisher(venue_id, db, bus)
        self.venue_cache = VenueCache()  # the venue's row as its commands last read it (fynlo/commands/unit.py)
        self._policy = policy or RestartPolicy(intensity=3, period=5.0)
        self._registry: Registry | None = None
        self._ready = trio.Event()
        self.degraded_until = 0.0
        self.escalations = 0

    @property
    def degraded(self) -> bool:
        return trio.current_time() < self.degraded_until

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.publisher.run)
            task_status.started()
            while True:
                try:
                    async with Registry.open(
                        lambda key: EntityActor(self, key),
                        mailbox_size=16,
                        idle_timeout=self.settings.actor_idle_s,
                        policy=self._policy,
                        on_crash=self._crashed,
                    ) as registry:
                        self._registry = registry
                        self._ready.set()
                        await trio.sleep_forever()
                except RestartBudgetExceeded:
                    self._registry = None
                    self._ready = trio.Event()
                    self.escalations += 1
                    self.degraded_until = trio.current_time() + DEGRADED_FOR_S
                    log.error("venue degraded: too many actor restarts", extra={"venue_id": self.venue_id})
                    await trio.sleep(REOPEN_AFTER_S)

    def _crashed(self, key: Hashable, exc: BaseException) -> None:
        log.error("actor crashed", exc_info=exc, extra={"venue_id": self.venue_id, "actor": repr(key)})

    async def ask(self, key: Hashable, envelope: Envelope) -> dict[str, Any]:
        registry = await self._open_registry()
        return await registry.ask(key, envelope, timeout=self.settings.ask_timeout_s)  # type: ignore[return-value]

    async def tell(self, key: Hashable, envelope: Envelope) -> None:
        """Queue `envelope` for `key`'s actor without waiting for it to be handled."""
        registry = await self._open_registry()
        with trio.move_on_after(self.settings.ask_timeout_s) as waited:
            await registry.tell(key, envelope)
        if waited.cancelled_caught:
            raise Unavailable("the venue is too busy; retry", reason="mailbox_full")

    async def _open_registry(self) -> Registry:
        with trio.move_on_after(self.settings.ask_timeout_s):
            await self._ready.wait()
        registry = self._registry
        if registry is None:
            raise Unavailable("the venue is restarting; retry", reason="venue_restarting")
        return registry
