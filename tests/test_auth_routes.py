"""The HTTP auth routes through the real app: answers, rate limits, and no secrets in logs."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

import pytest

from fynlo.auth.login import login_password
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.errors import Unauthenticated
from tests.test_auth_support import PASSWORD, add_staff, add_terminal, app_client, new_venue, unique_email


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _owner(db: Database, settings: Settings) -> tuple[str, str, str]:
    venue = await new_venue(db)
    email = unique_email()
    owner = await add_staff(db, settings, venue, role="owner", email=email, password=PASSWORD)
    return venue, owner, email


async def _login(client: Any, email: str, password: str = PASSWORD) -> Any:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_login_refresh_and_bad_credentials(db: Database, settings: Settings) -> None:
    venue, owner, email = await _owner(db, settings)
    async with app_client(db, settings) as client:
        ok = await _login(client, email.upper())
        assert ok.status_code == 200
        body = await ok.get_json()
        assert body["user"] == {"id": owner, "name": body["user"]["name"], "role": "owner", "venue_id": venue}
        assert body["expires_in"] == settings.access_token_ttl_s and body["token_type"] == "Bearer"
        wrong = await _login(client, email, "not the password")
        unknown = await _login(client, unique_email())
        assert wrong.status_code == unknown.status_code == 401
        assert (await wrong.get_json()) == (await unknown.get_json())
        assert (await wrong.get_json())["error"]["code"] == "unauthenticated"

        fresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
        assert fresh.status_code == 200
        retry = await client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
        assert (await retry.get_json())["refresh_token"] == (await fresh.get_json())["refresh_token"]
        junk = await client.post("/api/v1/auth/refresh", json={"refresh_token": "junk"})
        assert junk.status_code == 401


async def test_expired_access_token_is_401(db: Database, settings: Settings) -> None:
    _, _, email = await _owner(db, settings)
    expired = replace(settings, access_token_ttl_s=-60)
    async with app_client(db, expired) as client:
        token = (await (await _login(client, email)).get_json())["access_token"]
        answer = await client.post("/api/v1/terminals", json={"name": "Bar"}, headers=_bearer(token))
        assert answer.status_code == 401
        assert (await answer.get_json())["error"]["code"] == "unauthenticated"
        missing = await client.post("/api/v1/terminals", json={"name": "Bar"})
        assert missing.status_code == 401


async def test_login_rate_limit(db: Database, settings: Settings) -> None:
    _, _, email = await _owner(db, settings)
    async with app_client(db, replace(settings, login_rate_per_min=3)) as client:
        for _ in range(3):
            assert (await _login(client, email, "wrong password")).status_code == 401
        limited = await _login(client, email)  # even the right password waits
        assert limited.status_code == 429
        assert (await limited.get_json())["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        # the address is limited too, whatever email it tries
        assert (await _login(client, unique_email())).status_code == 429


async def test_terminals_pin_and_staff_routes(db: Database, settings: Settings) -> None:
    venue, _, email = await _owner(db, settings)
    manager_email = unique_email()
    await add_staff(db, settings, venue, role="manager", email=manager_email, password=PASSWORD)
    async with app_client(db, settings) as client:
        manager = _bearer((await (await _login(client, manager_email)).get_json())["access_token"])
        made = await client.post("/api/v1/terminals", json={"name": "Bar till"}, headers=manager)
        assert made.status_code == 201
        terminal = await made.get_json()
        assert terminal["terminal_token"].startswith("fyt_")

        staff = await client.post("/api/v1/staff", json={"name": "Sam", "role": "staff", "pin": "3141"}, headers=manager)
        assert staff.status_code == 201
        record = await staff.get_json()
        assert record["role"] == "staff" and record["has_pin"] and "pin" not in record
        dup = await client.post("/api/v1/staff", json={"name": "Al", "role": "staff", "pin": "3141"}, headers=manager)
        assert dup.status_code == 409
        owner_by_manager = await client.post("/api/v1/staff", json={"name": "Boss", "role": "owner"}, headers=manager)
        assert owner_by_manager.status_code == 403

        pin = await client.post("/api/v1/auth/pin", json={"terminal_token": terminal["terminal_token"], "pin": "3141"})
        assert pin.status_code == 200
        sam = _bearer((await pin.get_json())["access_token"])
        forbidden = await client.post("/api/v1/terminals", json={"name": "Mine"}, headers=sam)
        assert forbidden.status_code == 403
        assert "manager or owner" in (await forbidden.get_json())["error"]["message"]

        other_venue = await new_venue(db)
        foreign, _ = await add_terminal(db, other_venue)
        assert (await client.post(f"/api/v1/terminals/{foreign}/revoke", headers=manager)).status_code == 404
        revoked = await client.post(f"/api/v1/terminals/{terminal['terminal_id']}/revoke", headers=manager)
        assert revoked.status_code == 200
        again = await client.post("/api/v1/auth/pin", json={"terminal_token": terminal["terminal_token"], "pin": "3141"})
        assert again.status_code == 401
        after = await client.post("/api/v1/staff", json={"name": "X", "role": "staff"}, headers=sam)
        assert after.status_code == 401  # Sam's session ended with the terminal


async def test_openapi_documents_the_routes(db: Database, settings: Settings) -> None:
    async with app_client(db, settings) as client:
        spec = await (await client.get("/openapi.json")).get_json()
    paths = spec["paths"]
    for path in ["/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/pin", "/api/v1/terminals", "/api/v1/staff"]:
        assert "post" in paths[path], path
    assert paths["/api/v1/terminals"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in paths["/api/v1/auth/login"]["post"]


async def test_secrets_never_reach_the_logs(db: Database, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    venue, _, email = await _owner(db, settings)
    await add_staff(db, settings, venue, pin="90210")
    _, terminal_token = await add_terminal(db, venue)
    secrets_seen: list[str] = [PASSWORD, terminal_token, "90210", "11111"]
    async with app_client(db, settings) as client:
        body = await (await _login(client, email)).get_json()
        secrets_seen += [body["access_token"], body["refresh_token"]]
        await _login(client, email, "wrong-password-123")
        secrets_seen.append("wrong-password-123")
        pin = await client.post("/api/v1/auth/pin", json={"terminal_token": terminal_token, "pin": "90210"})
        secrets_seen.append((await pin.get_json())["access_token"])
        for _ in range(6):  # wrong PINs up to and past the lockout, which logs a warning
            await client.post("/api/v1/auth/pin", json={"terminal_token": terminal_token, "pin": "11111"})
        await client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert "PIN entry locked" in caplog.text  # the capture works
    everything = caplog.text + "".join(repr(vars(record)) for record in caplog.records)
    for secret in secrets_seen:
        assert secret not in everything


async def test_unknown_email_costs_as_much_as_a_wrong_password(db: Database, settings: Settings) -> None:
    _, _, email = await _owner(db, settings)

    async def seconds(address: str) -> float:
        started = time.perf_counter()
        with pytest.raises(Unauthenticated):
            await login_password(db, settings, address, "not the password")
        return time.perf_counter() - started

    wrong = sorted([await seconds(email) for _ in range(3)])[1]
    unknown = sorted([await seconds(unique_email()) for _ in range(3)])[1]
    assert 0.4 < unknown / wrong < 2.5
