"""PIN sign-in on terminals: venue scoping, uniqueness, lockouts, revoked terminals."""

from __future__ import annotations

import pytest

from fynlo.auth import pins
from fynlo.auth.login import login_pin
from fynlo.auth.principal import authenticate
from fynlo.auth.terminals import revoke_terminal
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.errors import Conflict, RateLimited, Unauthenticated, ValidationError
from tests.test_auth_support import add_staff, add_terminal, events_named, new_venue


async def test_pin_login_binds_the_tokens_to_the_terminal(db: Database, settings: Settings) -> None:
    venue = await new_venue(db)
    staff = await add_staff(db, settings, venue, pin="4821")
    terminal, token = await add_terminal(db, venue)
    session = await login_pin(db, settings, token, "4821")
    assert session.user.id == staff and session.user.venue_id == venue
    principal = await authenticate(db, settings, session.access_token)
    assert principal.terminal_id == terminal and principal.family_id is not None
    seen = await db.run(lambda c: c.execute("SELECT last_seen_at FROM terminals WHERE id = %s", (terminal,)).fetchone())
    assert seen["last_seen_at"] is not None


async def test_pin_of_another_venue_does_not_work(db: Database, settings: Settings) -> None:
    venue_a, venue_b = await new_venue(db), await new_venue(db)
    await add_staff(db, settings, venue_a, pin="5555")
    _, token_b = await add_terminal(db, venue_b)
    with pytest.raises(Unauthenticated):
        await login_pin(db, settings, token_b, "5555")


async def test_pins_are_unique_within_a_venue_only(db: Database, settings: Settings) -> None:
    venue_a, venue_b = await new_venue(db), await new_venue(db)
    await add_staff(db, settings, venue_a, pin="1234")
    with pytest.raises(Conflict) as caught:
        await add_staff(db, settings, venue_a, pin="1234")
    assert caught.value.details["reason"] == "pin_taken"
    await add_staff(db, settings, venue_b, pin="1234")
    stored = await db.run(lambda c: c.execute("SELECT pin_lookup, pin_hash FROM staff WHERE venue_id = %s", (venue_b,)).fetchone())
    assert b"1234" not in bytes(stored["pin_lookup"]) and "1234" not in stored["pin_hash"]


async def test_malformed_pins_are_validation_errors(db: Database, settings: Settings) -> None:
    venue = await new_venue(db)
    _, token = await add_terminal(db, venue)
    for bad in ["123", "123456789", "12a4", "", " 1234"]:
        with pytest.raises(ValidationError):
            await login_pin(db, settings, token, bad)
        with pytest.raises(ValidationError):
            await add_staff(db, settings, venue, pin=bad)


async def _venue_with_pin(db: Database, settings: Settings, pin: str, terminals: int = 1) -> tuple[str, list[str]]:
    venue = await new_venue(db)
    await add_staff(db, settings, venue, pin=pin)
    return venue, [(await add_terminal(db, venue))[1] for _ in range(terminals)]


async def _wrong_pins(db: Database, settings: Settings, tokens: list[str]) -> None:
    for token in tokens:
        with pytest.raises(Unauthenticated):
            await login_pin(db, settings, token, "0000")


async def test_five_wrong_pins_lock_the_terminal(db: Database, settings: Settings) -> None:
    venue, [token] = await _venue_with_pin(db, settings, "2468")
    await _wrong_pins(db, settings, [token] * pins.TERMINAL_MAX_FAILURES)
    with pytest.raises(RateLimited) as caught:
        await login_pin(db, settings, token, "2468")  # the right PIN, but locked
    assert 0 < caught.value.details["retry_after"] <= pins.LOCK_S
    locks = await events_named(db, venue, "staff.pin_locked")
    assert {e["data"]["scope"] for e in locks} == {"terminal", "venue"}  # 5 is both thresholds
    assert len(locks) == 2


async def test_failures_across_terminals_lock_the_venue(db: Database, settings: Settings) -> None:
    venue, (t1, t2, t3) = await _venue_with_pin(db, settings, "1357", terminals=3)
    await _wrong_pins(db, settings, [t1, t1, t2, t2, t3])
    for token in (t1, t2, t3):
        with pytest.raises(RateLimited):
            await login_pin(db, settings, token, "1357")
    locks = await events_named(db, venue, "staff.pin_locked")
    assert [e["data"]["scope"] for e in locks] == ["venue"]


async def test_locks_expire(db: Database, settings: Settings) -> None:
    venue, [token] = await _venue_with_pin(db, settings, "1111")
    await _wrong_pins(db, settings, [token] * pins.VENUE_MAX_FAILURES)

    def sixteen_minutes_pass(conn):  # type: ignore[no-untyped-def]
        conn.execute("UPDATE pin_failures SET at = at - interval '16 minutes' WHERE venue_id = %s", (venue,))
        conn.execute("UPDATE pin_locks SET started_at = started_at - interval '16 minutes',"
                     " locked_until = locked_until - interval '16 minutes' WHERE venue_id = %s", (venue,))

    await db.run(sixteen_minutes_pass)
    await login_pin(db, settings, token, "1111")
    await _wrong_pins(db, settings, [token])  # the old failures no longer count: one more does not relock
    await login_pin(db, settings, token, "1111")


async def test_revoked_terminal_cannot_sign_in_and_its_sessions_end(db: Database, settings: Settings) -> None:
    venue = await new_venue(db)
    manager = await add_staff(db, settings, venue, role="manager", pin="8642")
    terminal, token = await add_terminal(db, venue, manager)
    session = await login_pin(db, settings, token, "8642")
    await db.run(lambda conn: revoke_terminal(conn, venue, terminal, manager))
    with pytest.raises(Unauthenticated):
        await login_pin(db, settings, token, "8642")
    with pytest.raises(Unauthenticated):
        await authenticate(db, settings, session.access_token)
    await db.run(lambda conn: revoke_terminal(conn, venue, terminal, manager))  # again: no-op
    assert len(await events_named(db, venue, "terminal.revoked")) == 1
    assert len(await events_named(db, venue, "terminal.registered")) == 1


async def test_unknown_terminal_token_is_refused(db: Database, settings: Settings) -> None:
    with pytest.raises(Unauthenticated):
        await login_pin(db, settings, "fyt_not-a-real-token", "1234")


def test_pin_lookup_is_keyed_and_venue_scoped() -> None:
    venue_a, venue_b = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
    base = pins.pin_lookup("k1", venue_a, "1234")
    assert base == pins.pin_lookup("k1", venue_a, "1234")
    assert base != pins.pin_lookup("k2", venue_a, "1234")
    assert base != pins.pin_lookup("k1", venue_b, "1234")
    assert base != pins.pin_lookup("k1", venue_a, "1235")
