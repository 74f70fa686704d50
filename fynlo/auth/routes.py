"""The HTTP side of authentication that every route shares: who sent this request."""

from __future__ import annotations

from quart import request

from fynlo.auth.principal import Principal, authenticate
from fynlo.errors import Unauthenticated
from fynlo.web.context import services


async def bearer_principal() -> Principal:
    """The principal of the current request's `Authorization: Bearer <access token>` header.

    Raises:
        Unauthenticated: no bearer header, or a token `authenticate` refuses.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send an access token: Authorization: Bearer <token>")
    svc = services()
    return await authenticate(svc.db, svc.settings, token.strip())
