"""Refresh rotation, the retry grace window, and family revocation on reuse."""

from __future__ import annotations

from dataclasses import replace

import pytest
import trio

from fynlo.auth.principal import authenticate
from fynlo.auth.refresh import Session, open_session, rotate
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.errors import Unauthenticated
from tests.test_auth_support import add_staff, add_terminal, events_named, new_venue


async def _signed_in(db: Database, settings: Settings, terminal: bool = False) -> tuple[str, Session]:
    venue = await new_venue(db)
    staff = await add_staff(db, settings, venue, role="manager")
    terminal_id = (await add_terminal(db, venue))[0] if terminal else None

    def work(conn):  # type: ignore[no-untyped-def]
        row = conn.execute("SELECT id, venue_id, name, role FROM staff WHERE id = %s", (staff,)).fetchone()
        return open_session(conn, settings, row, terminal_id)

    return venue, await db.run(work)


async def test_rotation_gives_a_new_pair_and_kills_the_old_token(db: Database, settings: Settings) -> None:
    _, first = await _signed_in(db, settings, terminal=True)
    second = await rotate(db, settings, first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert second.user == first.user
    principal = await authenticate(db, settings, second.access_token)
    assert principal.staff_id == first.user.id and principal.terminal_id is not None
    third = await rotate(db, settings, second.refresh_token)
    assert third.refresh_token not in (first.refresh_token, second.refresh_token)


async def test_retry_within_grace_returns_the_same_pair(db: Database, settings: Settings) -> None:
    _, first = await _signed_in(db, settings)
    second = await rotate(db, settings, first.refresh_token)
    again = await rotate(db, settings, first.refresh_token)  # the tablet never saw `second`
    assert again.refresh_token == second.refresh_token
    await authenticate(db, settings, again.access_token)
    # the replacement still works (once), and then the original may no longer be retried
    third = await rotate(db, settings, second.refresh_token)
    with pytest.raises(Unauthenticated):
        await rotate(db, settings, first.refresh_token)
    with pytest.raises(Unauthenticated):
        await authenticate(db, settings, third.access_token)


async def test_reuse_after_grace_revokes_the_whole_family(db: Database, settings: Settings) -> None:
    quick = replace(settings, refresh_grace_s=0)
    venue, first = await _signed_in(db, quick)
    second = await rotate(db, quick, first.refresh_token)
    await trio.sleep(0.01)
    with pytest.raises(Unauthenticated) as caught:
        await rotate(db, quick, first.refresh_token)
    assert caught.value.details["reason"] == "token_reused"
    with pytest.raises(Unauthenticated):
        await rotate(db, quick, second.refresh_token)  # the thief's (or our) new token is dead too
    with pytest.raises(Unauthenticated):
        await authenticate(db, quick, second.access_token)
    revoked = await events_named(db, venue, "auth.family_revoked")
    assert len(revoked) == 1 and revoked[0]["data"]["staff_id"] == first.user.id
    with pytest.raises(Unauthenticated):
        await rotate(db, quick, first.refresh_token)  # still dead, and no second event
    assert len(await events_named(db, venue, "auth.family_revoked")) == 1


async def test_expired_or_unknown_refresh_token_is_refused(db: Database, settings: Settings) -> None:
    _, first = await _signed_in(db, replace(settings, refresh_token_ttl_s=-1))
    with pytest.raises(Unauthenticated):
        await rotate(db, settings, first.refresh_token)
    with pytest.raises(Unauthenticated):
        await rotate(db, settings, "no-such-token")


async def test_refresh_stops_when_staff_is_deactivated(db: Database, settings: Settings) -> None:
    _, first = await _signed_in(db, settings)
    await db.run(lambda conn: conn.execute("UPDATE staff SET active = false WHERE id = %s", (first.user.id,)))
    with pytest.raises(Unauthenticated):
        await rotate(db, settings, first.refresh_token)


async def test_concurrent_refreshes_of_one_token_agree(db: Database, settings: Settings) -> None:
    _, first = await _signed_in(db, settings)
    results: list[Session] = []

    async def one() -> None:
        results.append(await rotate(db, settings, first.refresh_token))

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(one)
    assert len({s.refresh_token for s in results}) == 1
