"""The back office's HTTP routes for the menu and the floor: the same commands in REST clothes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from fynlo.db import Database
from sim.http import client_for
from tests.support import VenueKit


def new_id() -> str:
    return str(uuid.uuid4())


async def call(server: str, token: str, method: str, path: str, body: Any = None,
               key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    async with client_for(server, base_url=server) as http:
        return await http.request(method, path, json=body, headers=headers)


async def event_names(db: Database, venue_id: str) -> list[str]:
    rows = await db.run(lambda c: c.execute(
        "SELECT name FROM events WHERE venue_id = %s ORDER BY seq", (venue_id,)).fetchall())
    return [r["name"] for r in rows]


async def test_manager_builds_the_menu_over_http(server: str, db: Database, kit: VenueKit) -> None:
    manager = kit.token("manager")
    category, item, group = new_id(), new_id(), new_id()
    created = await call(server, manager, "PUT", f"/api/v1/menu/categories/{category}",
                         {"name": "Drinks", "station": "bar"})
    assert created.status_code == 201, created.text
    assert created.json()["categories"] == [{"id": category, "name": "Drinks", "station": "bar", "position": 0}]
    updated = await call(server, manager, "PUT", f"/api/v1/menu/categories/{category}", {"position": 3})
    assert updated.status_code == 200 and updated.json()["created"] is False
    assert updated.json()["categories"][0]["position"] == 3
    made = await call(server, manager, "PUT", f"/api/v1/menu/modifier-groups/{group}",
                      {"name": "Ice", "max_choices": 1, "options": [{"id": new_id(), "name": "No ice"}]})
    assert made.status_code == 201, made.text
    pint = await call(server, manager, "PUT", f"/api/v1/menu/items/{item}",
                      {"category_id": category, "name": "Cola", "price": 350, "modifier_group_ids": [group]})
    assert pint.status_code == 201, pint.text

    # the kitchen (any role) 86'es it; the menu says so
    off = await call(server, kit.token("kitchen"), "POST", f"/api/v1/menu/items/{item}/availability", {"available": False})
    assert off.status_code == 200 and off.json()["items"][0]["available"] is False
    stock = await call(server, manager, "PUT", f"/api/v1/menu/items/{item}/stock", {"stock": 24, "low_stock_at": 6})
    assert stock.status_code == 200 and stock.json()["items"][0]["stock"] == 24
    menu = await call(server, kit.token("staff"), "GET", "/api/v1/menu")
    assert menu.status_code == 200
    body = menu.json()
    assert [i["name"] for i in body["items"]] == ["Cola"] and body["items"][0]["available"] is False
    assert body["version"] == stock.json()["version"]
    assert (await event_names(db, kit.venue_id)).count("menu.updated") == 6


async def test_errors_come_back_with_their_status_and_change_nothing(server: str, db: Database, kit: VenueKit) -> None:
    category = new_id()
    before = await event_names(db, kit.venue_id)
    cases = [
        (kit.token("staff"), "PUT", f"/api/v1/menu/categories/{category}", {"name": "Nope"}, 403, "forbidden"),
        (kit.token("staff"), "PUT", f"/api/v1/floor/areas/{new_id()}", {"name": "Nope"}, 403, "forbidden"),
        (kit.token("manager"), "PUT", f"/api/v1/menu/items/{new_id()}",
         {"category_id": category, "name": "Ghost", "price": 100}, 404, "not_found"),
        (kit.token("manager"), "PUT", f"/api/v1/menu/items/{new_id()}", {"price": -1}, 422, "validation_error"),
        (kit.token("manager"), "PUT", "/api/v1/menu/categories/not-a-uuid", {"name": "X"}, 422, "validation_error"),
        (kit.token("manager"), "PUT", f"/api/v1/menu/categories/{category}", [1, 2], 422, "validation_error"),
        ("not-a-token", "GET", "/api/v1/menu", None, 401, "unauthenticated"),
    ]
    for token, method, path, body, status, code in cases:
        response = await call(server, token, method, path, body)
        assert response.status_code == status, (path, response.text)
        assert response.json()["error"]["code"] == code
    bad_key = await call(server, kit.token("manager"), "PUT", f"/api/v1/menu/categories/{category}",
                         {"name": "X"}, key="not-a-uuid")
    assert bad_key.status_code == 422
    assert await event_names(db, kit.venue_id) == before


async def test_idempotency_key_makes_a_retry_safe(server: str, db: Database, kit: VenueKit) -> None:
    area, key = new_id(), new_id()
    first = await call(server, kit.token("manager"), "PUT", f"/api/v1/floor/areas/{area}", {"name": "Bar"}, key=key)
    again = await call(server, kit.token("manager"), "PUT", f"/api/v1/floor/areas/{area}", {"name": "Bar"}, key=key)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert (await event_names(db, kit.venue_id)).count("floor.updated") == 1
    other = await call(server, kit.token("manager"), "PUT", f"/api/v1/floor/areas/{area}", {"name": "Snug"}, key=key)
    assert other.status_code == 409 and other.json()["error"]["details"]["reason"] == "idempotency_key_reused"

    table = new_id()
    made = await call(server, kit.token("owner"), "PUT", f"/api/v1/floor/tables/{table}",
                      {"area_id": area, "name": "B1", "seats": 2})
    assert made.status_code == 201 and made.json()["tables"][0]["area_id"] == area
    floor = await call(server, kit.token("kitchen"), "GET", "/api/v1/floor")
    assert floor.status_code == 200
    assert floor.json()["areas"] == [{"id": area, "name": "Bar", "position": 0, "tables": made.json()["tables"]}]


async def test_the_routes_are_in_openapi(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        doc = (await http.get("/openapi.json")).json()
    expected = {
        "/api/v1/menu": {"get"}, "/api/v1/floor": {"get"},
        "/api/v1/menu/categories/{entity_id}": {"put"}, "/api/v1/menu/items/{entity_id}": {"put"},
        "/api/v1/menu/modifier-groups/{entity_id}": {"put"},
        "/api/v1/menu/items/{entity_id}/availability": {"post"}, "/api/v1/menu/items/{entity_id}/stock": {"put"},
        "/api/v1/floor/areas/{entity_id}": {"put"}, "/api/v1/floor/tables/{entity_id}": {"put"},
    }
    for path, methods in expected.items():
        assert set(doc["paths"][path]) >= methods, path
    upsert = doc["paths"]["/api/v1/menu/items/{entity_id}"]["put"]
    assert {"200", "201", "403", "422"} <= set(upsert["responses"])
    assert "requestBody" in upsert
    assert "idempotency-key" in [p["name"] for p in upsert["parameters"]]
