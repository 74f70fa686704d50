"""What every route and socket handler reaches through the app: the running services."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quart import current_app

from fynlo.config import Settings
from fynlo.db import Database

if TYPE_CHECKING:
    from fynlo.bus import EventBus
    from fynlo.ratelimit import RateLimiter


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: "EventBus"
    limiter: "RateLimiter"
    # filled in by the server as it starts: the venue host, the socket hub
    extras: dict[str, Any] = field(default_factory=dict)


def services() -> Services:
    return current_app.extensions["fynlo"]


async def announce(venue_id: str) -> None:
    """A route wrote venue events outside the actors: have them published now."""
    host = services().extras.get("host")
    if host is not None:
        await host.announce(venue_id)
