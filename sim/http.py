"""The HTTP half of the contract a terminal uses: sign in, and send a command without a socket.

Each call opens its own `httpx.AsyncClient` unless one is passed in: signing in happens once
per simulated device, but a caller sending many commands over HTTP should pass a client so
connections are reused, as an app would.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from sim.errors import LoginFailed

__all__ = ["client_for", "command", "login", "pin_login", "register_terminal"]

TIMEOUT_S = 10.0


def client_for(url: str, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client for `url` that verifies certificates only where there are any: one that
    verifies loads the CA bundle as it is made (about 40 ms of CPU, holding the GIL), and the
    simulator's and the tests' clients mostly make one plain-HTTP request to loopback each."""
    return httpx.AsyncClient(verify=url.startswith("https:"), **kwargs)


async def _post(base_url: str, path: str, body: dict[str, Any], *, token: str | None = None,
                client: httpx.AsyncClient | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = base_url.rstrip("/") + path
    if client is not None:
        return await client.post(url, json=body, headers=headers)
    async with client_for(url, timeout=TIMEOUT_S) as own:
        return await own.post(url, json=body, headers=headers)


def _session(response: httpx.Response, expect: int = 200) -> dict[str, Any]:
    """The sign-in body, or LoginFailed carrying the server's `{"error": {...}}`."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != expect:
        error = body.get("error") if isinstance(body, dict) else None
        raise LoginFailed(response.status_code, error if isinstance(error, dict) else {"message": response.text[:200]})
    return body  # type: ignore[no-any-return]


async def login(base_url: str, email: str, password: str, *,
                client: httpx.AsyncClient | None = None) -> dict[str, Any]:
    """POST /api/v1/auth/login → {access_token, refresh_token, expires_in, user}.

    Raises:
        LoginFailed: any non-200 answer (wrong password: 401; too many tries: 429).
        httpx.TransportError: the server could not be reached.
    """
    return _session(await _post(base_url, "/api/v1/auth/login", {"email": email, "password": password},
                                client=client))


async def pin_login(base_url: str, terminal_token: str, pin: str, *,
                    client: httpx.AsyncClient | None = None) -> dict[str, Any]:
    """POST /api/v1/auth/pin → staff tokens bound to that terminal.

    Raises:
        LoginFailed: any non-200 answer (wrong PIN or unknown terminal: 401; locked: 429).
        httpx.TransportError: the server could not be reached.
    """
    return _session(await _post(base_url, "/api/v1/auth/pin", {"terminal_token": terminal_token, "pin": pin},
                                client=client))


async def register_terminal(base_url: str, token: str, name: str, *,
                            client: httpx.AsyncClient | None = None) -> dict[str, Any]:
    """POST /api/v1/terminals as a manager or owner → {terminal_id, terminal_token}.

    Raises:
        LoginFailed: any answer but 201 (a staff token: 403).
        httpx.TransportError: the server could not be reached.
    """
    response = await _post(base_url, "/api/v1/terminals", {"name": name}, token=token, client=client)
    return _session(response, expect=201)


async def command(base_url: str, token: str, name: str, args: dict[str, Any] | None = None,
                  id: str | None = None, *, client: httpx.AsyncClient | None = None) -> dict[str, Any]:
    """POST /api/v1/commands; return the reply envelope whatever the HTTP status.

    The status only mirrors the envelope's error code, so callers look at `ok` and `error`
    exactly as they would over the socket.

    Raises:
        httpx.TransportError: the server could not be reached.
        ValueError: the body was not JSON (not a reply envelope at all).
    """
    envelope = {"type": "command", "id": id or str(uuid.uuid4()), "name": name, "args": args or {}}
    response = await _post(base_url, "/api/v1/commands", envelope, token=token, client=client)
    return response.json()  # type: ignore[no-any-return]
