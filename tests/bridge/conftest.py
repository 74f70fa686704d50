"""Fixtures for the bridge: a venue with the demo menu, a registered bridge, simulated printers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from devices.sim import PrinterSimulator
from fynlo.db import Database
from tests.support import VenueKit, with_menu
from tests.test_printing import register_bridge


@pytest.fixture
async def venue(db: Database, kit: VenueKit) -> VenueKit:
    return await with_menu(db, kit)


@pytest.fixture
async def token(server: str, venue: VenueKit) -> str:
    return (await register_bridge(server, venue))[1]


@pytest.fixture
async def sims() -> AsyncIterator[dict[str, PrinterSimulator]]:
    """Kitchen, bar, receipt and a spare kitchen printer, listening on free loopback ports."""
    printers = {name: PrinterSimulator() for name in ("kitchen", "bar", "receipt", "kitchen-2")}
    async with trio.open_nursery() as nursery:
        for sim in printers.values():
            await nursery.start(sim.serve, "127.0.0.1", 0)
        yield printers
        nursery.cancel_scope.cancel()
