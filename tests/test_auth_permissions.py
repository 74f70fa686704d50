"""The permission table, its documentation, and manager approvals."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from fynlo.auth import permissions, pins
from fynlo.auth.permissions import ApprovalPinRejected, check, needs_approval, rule_for, verify_approval
from fynlo.auth.principal import Principal, Role
from fynlo.config import Settings
from fynlo.db import Database
from fynlo.errors import ApprovalRequired, Forbidden, RateLimited
from tests.test_auth_support import add_staff, add_terminal, events_named, new_venue

CONTRACT_COMMANDS = """
venue.get venue.update menu.get menu.upsert_category menu.upsert_item menu.upsert_modifier_group
menu.set_available order.open order.add_item order.update_item order.remove_item order.void_item
order.send order.fire_course order.print_bill order.apply_discount order.set_gratuity order.split
order.transfer order.cancel order.mark_ready order.complete kitchen.bump kitchen.recall
payment.quote payment.cash payment.card_start payment.card_capture payment.card_cancel
payment.qr_start payment.refund job.reprint till.open till.cash_movement till.x_report till.close
""".split()


def _as(role: Role) -> Principal:
    return Principal("s", "v", role, None, None, time.time() + 60)


def test_every_contract_command_has_a_rule() -> None:
    assert [c for c in CONTRACT_COMMANDS if rule_for(c) is None] == []


def test_roles() -> None:
    check(_as(Role.MANAGER), "venue.update")
    check(_as(Role.OWNER), "venue.update")
    with pytest.raises(Forbidden) as caught:
        check(_as(Role.STAFF), "venue.update")
    assert "manager or owner" in caught.value.message
    with pytest.raises(Forbidden):
        check(_as(Role.STAFF), "menu.upsert_item")
    for command in ["venue.get", "kitchen.bump", "kitchen.recall", "order.mark_ready", "menu.set_available"]:
        check(_as(Role.KITCHEN), command)
    for command in ["order.open", "payment.cash", "till.open", "payment.refund", "venue.update"]:
        with pytest.raises(Forbidden):
            check(_as(Role.KITCHEN), command)
    check(_as(Role.STAFF), "till.close")
    check(_as(Role.KITCHEN), "no.such_command")  # left to the dispatcher's "unknown command"


def test_approval_is_for_staff_asking() -> None:
    for command in ["payment.refund", "order.void_item", "order.cancel"]:
        assert needs_approval(_as(Role.STAFF), command)
        assert not needs_approval(_as(Role.MANAGER), command)
        assert not needs_approval(_as(Role.OWNER), command)
    assert not needs_approval(_as(Role.STAFF), "order.add_item")


def test_nobody_grants_a_role_above_their_own() -> None:
    permissions.check_can_grant(_as(Role.MANAGER), Role.MANAGER)
    permissions.check_can_grant(_as(Role.MANAGER), Role.KITCHEN)
    permissions.check_can_grant(_as(Role.OWNER), Role.OWNER)
    with pytest.raises(Forbidden):
        permissions.check_can_grant(_as(Role.MANAGER), Role.OWNER)


def test_docs_table_matches_the_code() -> None:
    text = (Path(__file__).parent.parent / "docs" / "permissions.md").read_text()
    rows = re.findall(r"^\| `([a-z_]+\.[a-z_*]+)`[^|]*\| ([a-z, ]+) \| ([^|]+) \|$", text, re.MULTILINE)
    documented = {name for name, _, _ in rows}
    assert set(permissions.RULES) <= documented
    for name, roles, approval in rows:
        rule = rule_for(name)
        assert rule is not None, name
        assert {Role(r.strip()) for r in roles.split(",")} == set(rule.roles), name
        assert (approval.strip() == "yes") == rule.approval, name


async def _approval_venue(db: Database, settings: Settings) -> tuple[str, str, str, str]:
    venue = await new_venue(db)
    manager = await add_staff(db, settings, venue, role="manager", pin="7777")
    await add_staff(db, settings, venue, role="staff", pin="2222")
    terminal, _ = await add_terminal(db, venue)
    return venue, manager, terminal, "7777"


async def test_verify_approval(db: Database, settings: Settings) -> None:
    venue, manager, terminal, pin = await _approval_venue(db, settings)

    def approve(approval):  # type: ignore[no-untyped-def]
        return db.run(lambda conn: verify_approval(
            conn, settings, venue, approval, terminal_id=terminal, command="payment.refund"))

    for missing in [None, {}, {"pin": ""}, {"pin": 1234}]:
        with pytest.raises(ApprovalRequired):
            await approve(missing)
    with pytest.raises(Forbidden):
        await approve({"pin": "2222"})  # a staff PIN
    assert await approve({"pin": pin}) == manager
    granted = await events_named(db, venue, "auth.approval_granted")
    assert [e["data"] for e in granted] == [{"approver": manager, "command": "payment.refund", "terminal_id": terminal}]


async def test_verify_approval_uses_the_executors_event_sink(db: Database, settings: Settings) -> None:
    venue, manager, terminal, pin = await _approval_venue(db, settings)
    emitted: list[tuple[str, dict]] = []
    approver = await db.run(lambda conn: verify_approval(
        conn, settings, venue, {"pin": pin}, terminal_id=None, emit=lambda n, d: emitted.append((n, d))))
    assert approver == manager and emitted[0][0] == "auth.approval_granted"
    assert await events_named(db, venue, "auth.approval_granted") == []


async def test_wrong_approval_pins_count_toward_the_lockout(db: Database, settings: Settings) -> None:
    venue, _, terminal, pin = await _approval_venue(db, settings)
    for _ in range(pins.TERMINAL_MAX_FAILURES):
        with pytest.raises(ApprovalPinRejected) as caught:
            await db.run(lambda conn: verify_approval(conn, settings, venue, {"pin": "0000"}, terminal_id=terminal))
        assert isinstance(caught.value, ApprovalRequired)
        assert caught.value.details == {"reason": "invalid_pin"}
        await db.run(caught.value.record)  # what the executor does after the rollback
    with pytest.raises(RateLimited):
        await db.run(lambda conn: verify_approval(conn, settings, venue, {"pin": pin}, terminal_id=terminal))
    assert len(await events_named(db, venue, "staff.pin_locked")) == 2
