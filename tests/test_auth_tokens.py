"""Access tokens and `authenticate`: forged, expired and revoked tokens never pass."""

from __future__ import annotations

import time
from dataclasses import replace

import jwt
import pytest

from fynlo.auth.principal import Role, authenticate
from fynlo.auth.tokens import decode_access, mint_access
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.errors import Unauthenticated
from tests.test_auth_support import add_staff, add_terminal, new_venue


def _mint(settings: Settings, staff_id: str, venue_id: str, **kw: object) -> str:
    kw.setdefault("terminal_id", None)
    kw.setdefault("family_id", None)
    token, _ = mint_access(settings, staff_id=staff_id, venue_id=venue_id, role="manager", **kw)  # type: ignore[arg-type]
    return token


async def test_valid_token_gives_a_principal_with_the_database_role(db: Database, settings: Settings) -> None:
    venue = await new_venue(db)
    staff = await add_staff(db, settings, venue, role="staff")
    principal = await authenticate(db, settings, _mint(settings, staff, venue))  # the token says manager
    assert (principal.staff_id, principal.venue_id, principal.role) == (staff, venue, Role.STAFF)
    assert not principal.expired
    assert principal.expires_at == pytest.approx(time.time() + 900, abs=5)


def _claims(venue: str, staff: str, **changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"iss": "fynlo", "aud": "fynlo", "iat": now, "exp": now + 600, "jti": "x",
                                 "sub": staff, "venue": venue, "role": "owner", "term": None, "fam": None}
    claims.update(changes)
    return claims


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_forged_tokens_are_refused(settings: Settings) -> None:
    venue, staff = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"
    forged = [
        jwt.encode(_claims(venue, staff), None, algorithm="none"),
        jwt.encode(_claims(venue, staff), "another-key-of-a-decent-length-32b", algorithm="HS256"),
        jwt.encode(_claims(venue, staff), settings.secret_key.encode(), algorithm="HS256"),  # not the derived key
        _mint(Settings(secret_key="other-secret"), staff, venue),
        "not.a.jwt",
        "",
    ]
    for token in forged:
        with pytest.raises(Unauthenticated):
            decode_access(settings, token)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_wrong_audience_issuer_or_missing_claims_are_refused(settings: Settings) -> None:
    from fynlo.auth.keys import derive_key

    key = derive_key(settings.secret_key, "jwt")
    venue, staff = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"
    assert decode_access(settings, jwt.encode(_claims(venue, staff), key, algorithm="HS256")).role == "owner"
    bad = [_claims(venue, staff, aud="someone-else"), _claims(venue, staff, iss="evil")]
    missing_exp = _claims(venue, staff)
    del missing_exp["exp"]
    bad.append(missing_exp)
    for claims in bad:
        with pytest.raises(Unauthenticated):
            decode_access(settings, jwt.encode(claims, key, algorithm="HS256"))
    hs512 = jwt.encode(_claims(venue, staff), key, algorithm="HS512")
    with pytest.raises(Unauthenticated):
        decode_access(settings, hs512)


async def test_expired_token_is_refused(db: Database, settings: Settings) -> None:
    venue = await new_venue(db)
    staff = await add_staff(db, settings, venue)
    with pytest.raises(Unauthenticated) as caught:
        await authenticate(db, settings, _mint(settings, staff, venue, now=time.time() - 3600))
    assert caught.value.details["reason"] == "token_expired"
    short = replace(settings, access_token_ttl_s=-60)  # expired beyond the leeway
    with pytest.raises(Unauthenticated):
        await authenticate(db, short, _mint(short, staff, venue))


async def test_inactive_staff_and_revoked_terminal_are_refused(db: Database, settings: Settings) -> None:
    venue = await new_venue(db)
    staff = await add_staff(db, settings, venue)
    terminal, _ = await add_terminal(db, venue)
    token = _mint(settings, staff, venue, terminal_id=terminal)
    assert (await authenticate(db, settings, token)).terminal_id == terminal
    await db.run(lambda conn: conn.execute("UPDATE terminals SET revoked_at = now() WHERE id = %s", (terminal,)))
    with pytest.raises(Unauthenticated):
        await authenticate(db, settings, token)
    plain = _mint(settings, staff, venue)
    await db.run(lambda conn: conn.execute("UPDATE staff SET active = false WHERE id = %s", (staff,)))
    with pytest.raises(Unauthenticated):
        await authenticate(db, settings, plain)


async def test_token_of_another_venue_or_unknown_staff_is_refused(db: Database, settings: Settings) -> None:
    venue_a, venue_b = await new_venue(db), await new_venue(db)
    staff = await add_staff(db, settings, venue_a)
    with pytest.raises(Unauthenticated):
        await authenticate(db, settings, _mint(settings, staff, venue_b))
    with pytest.raises(Unauthenticated):
        await authenticate(db, settings, _mint(settings, "00000000-0000-0000-0000-000000000009", venue_a))
