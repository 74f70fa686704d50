"""GET /healthz (the process is up, with details) and GET /readyz (it can serve)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from quart import Blueprint
from quart_schema import document_response

from fynlo.db import pending_migrations
from fynlo.errors import Unavailable
from fynlo.web.context import services

bp = Blueprint("health", __name__)


class Health(BaseModel):
    status: str
    instance: str
    venues: dict[str, Any]
    bus: dict[str, Any]
    connections: int


class Ready(BaseModel):
    status: str
    reasons: list[str] = []


@bp.get("/healthz")
@document_response(Health, 200)
async def healthz() -> dict[str, Any]:
    """200 while the process is up; degraded venues and bus state are details, not failures."""
    svc = services()
    host = svc.extras.get("host")
    runtimes = host.venues if host else {}
    hub = svc.extras.get("hub")
    return {
        "status": "ok",
        "instance": svc.settings.instance_name,
        "venues": {
            "running": len(runtimes),
            "degraded": sorted(v for v, rt in runtimes.items() if rt.degraded),
        },
        "bus": {"kind": "redis" if svc.settings.redis_url else "memory", "healthy": svc.bus.healthy},
        "connections": hub.connections if hub else 0,
    }


@bp.get("/readyz")
@document_response(Ready, 200)
@document_response(Ready, 503)
async def readyz() -> tuple[dict[str, Any], int]:
    """200 when the database answers and every migration is applied, else 503 with reasons."""
    svc = services()
    reasons: list[str] = []
    try:
        missing = await svc.db.run(pending_migrations)
        if missing:
            reasons.append(f"migrations not applied: {', '.join(missing)}")
    except Unavailable:
        reasons.append("database unreachable")
    if reasons:
        return {"status": "unavailable", "reasons": reasons}, 503
    return {"status": "ready", "reasons": []}, 200
