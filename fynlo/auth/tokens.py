"""Access tokens: short-lived HS256 JWTs (RFC 8725 practice).

The algorithm is pinned on decode, so `alg: none` and algorithm-confusion tokens are refused;
`iss`, `aud` and `exp` are required and checked. Tokens live `settings.access_token_ttl_s`
(15 minutes): revocation is enforced by `principal.authenticate`, which also asks the database,
and the short life bounds what a token stolen from a tablet is worth.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from fynlo.auth.keys import derive_key
from fynlo.config import Settings
from fynlo.errors import Unauthenticated

ISSUER = "fynlo"
AUDIENCE = "fynlo"
ALGORITHM = "HS256"
# Tokens are minted and checked by our own servers, so only their clock skew matters.
LEEWAY_S = 10
_REQUIRED = ["exp", "iat", "iss", "aud", "sub", "jti"]


@dataclass(frozen=True)
class Claims:
    """What a verified access token says."""

    staff_id: str
    venue_id: str
    role: str
    terminal_id: str | None
    family_id: str | None
    expires_at: float


def _key(settings: Settings) -> bytes:
    return derive_key(settings.secret_key, "jwt")


def mint_access(
    settings: Settings,
    *,
    staff_id: str,
    venue_id: str,
    role: str,
    terminal_id: str | None,
    family_id: str | None,
    now: float | None = None,
) -> tuple[str, int]:
    """Sign an access token; return it with its lifetime in seconds (`expires_in`).

    `now` exists so tests can mint tokens that are already expired.
    """
    issued = int(time.time() if now is None else now)
    ttl = settings.access_token_ttl_s
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + ttl,
        "jti": uuid.uuid4().hex,
        "sub": staff_id,
        "venue": venue_id,
        "role": role,
        "term": terminal_id,
        "fam": family_id,
    }
    return jwt.encode(payload, _key(settings), algorithm=ALGORITHM), ttl


def decode_access(settings: Settings, token: str) -> Claims:
    """Verify signature, algorithm, issuer, audience and expiry.

    Raises:
        Unauthenticated: for any token that fails a check. The reason is not told to the
            client (it would only help someone probing), and the token is never logged.
    """
    try:
        payload = jwt.decode(
            token,
            _key(settings),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=LEEWAY_S,
            options={"require": _REQUIRED},
        )
        return Claims(
            staff_id=_uuid(payload["sub"]),
            venue_id=_uuid(payload["venue"]),
            role=str(payload["role"]),
            terminal_id=_optional_uuid(payload.get("term")),
            family_id=_optional_uuid(payload.get("fam")),
            expires_at=float(payload["exp"]),
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the access token has expired", reason="token_expired") from None
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        raise Unauthenticated("the access token is not valid") from None


def _uuid(value: object) -> str:
    return str(uuid.UUID(str(value)))


def _optional_uuid(value: object) -> str | None:
    return None if value is None else _uuid(value)
