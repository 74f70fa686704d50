"""Who may run which command, and manager approval (docs/permissions.md is this table in prose).

`RULES` maps command names, or patterns ending in `*`, to the roles allowed. The most specific
entry wins: an exact name, then the longest matching pattern. A name no entry matches passes
`check`, so the dispatcher can answer it `validation_error: unknown command` rather than a
misleading `forbidden`.

Some commands are open to staff but need a manager's say-so: the request carries
`"approval": {"pin": "…"}`, a manager's or owner's PIN typed on the same terminal, checked by
`verify_approval` inside the command's transaction. Managers and owners approve themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Final, Mapping

from fynlo.auth.audit import append_event
from fynlo.auth.passwords import verify_secret
from fynlo.auth.pins import ensure_unlocked, find_by_pin, record_failure, validate_pin
from fynlo.auth.principal import Principal, Role
from fynlo.config import Settings
from fynlo.errors import ApprovalRequired, FynloError, Forbidden

ALL: Final = frozenset(Role.staff_roles())
BRIDGE: Final = frozenset({Role.BRIDGE})
FRONT: Final = frozenset({Role.STAFF, Role.MANAGER, Role.OWNER})
MANAGERS: Final = frozenset({Role.MANAGER, Role.OWNER})


@dataclass(frozen=True)
class Rule:
    """Roles allowed; `approval`: roles below manager must add a manager's approval PIN."""

    roles: frozenset[Role]
    approval: bool = False


RULES: Final[Mapping[str, Rule]] = {
    "venue.get": Rule(ALL),
    "venue.update": Rule(MANAGERS),
    "menu.get": Rule(ALL),
    "menu.upsert_*": Rule(MANAGERS),
    "menu.set_available": Rule(ALL),            # the kitchen 86es what it runs out of
    "menu.set_stock": Rule(ALL),                # and counts what is left
    "floor.get": Rule(ALL),
    "floor.upsert_*": Rule(MANAGERS),
    "order.*": Rule(FRONT),
    "order.get": Rule(ALL),
    "order.list": Rule(ALL),
    "order.mark_ready": Rule(ALL),
    "order.void_item": Rule(FRONT, approval=True),
    "order.cancel": Rule(FRONT, approval=True),
    "kitchen.*": Rule(ALL),
    "payment.*": Rule(FRONT),
    "payment.refund": Rule(FRONT, approval=True),
    "payment.reconcile": Rule(MANAGERS),
    "report.*": Rule(MANAGERS),
    "job.reprint": Rule(ALL),
    "job.pending": Rule(BRIDGE),
    "job.report": Rule(BRIDGE),
    "device.report": Rule(BRIDGE),
    "scan.report": Rule(BRIDGE),
    "device.list": Rule(ALL | BRIDGE),
    "till.*": Rule(FRONT),
    "terminal.register": Rule(MANAGERS),
    "terminal.revoke": Rule(MANAGERS),
    "staff.create": Rule(MANAGERS),
}
_PATTERNS: Final = sorted(((k[:-1], r) for k, r in RULES.items() if k.endswith("*")), key=lambda p: -len(p[0]))


def rule_for(command_name: str) -> Rule | None:
    """The rule governing `command_name`, or None for a name the table does not know."""
    exact = RULES.get(command_name)
    if exact is not None:
        return exact
    return next((rule for prefix, rule in _PATTERNS if command_name.startswith(prefix)), None)


def _roles_text(roles: frozenset[Role]) -> str:
    names = [str(r) for r in sorted(roles, key=lambda r: r.rank)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def check(principal: Principal, command_name: str) -> None:
    """Raises Forbidden, naming the roles that may, unless the principal's role may run it."""
    rule = rule_for(command_name)
    if rule is not None and principal.role not in rule.roles:
        raise Forbidden(
            f"{command_name} needs the {_roles_text(rule.roles)} role",
            required_roles=[str(r) for r in sorted(rule.roles, key=lambda r: r.rank)],
        )


def needs_approval(principal: Principal, command_name: str) -> bool:
    """Whether this principal must add a manager's approval to run this command."""
    rule = rule_for(command_name)
    return rule is not None and rule.approval and principal.role not in MANAGERS


def check_can_grant(principal: Principal, role: Role) -> None:
    """Raises Forbidden when someone tries to create a more senior role than their own."""
    if role.rank > principal.role.rank:
        raise Forbidden(f"a {principal.role} cannot create a {role}", required_roles=["owner"])


class ApprovalPinRejected(ApprovalRequired):
    """A wrong approval PIN. It must count toward the PIN lockout, but the command's
    transaction rolls back with this error, so the executor records it afterwards, in a
    transaction of its own: `await db.run(exc.record)`.
    """

    def __init__(self, venue_id: str, terminal_id: str | None) -> None:
        super().__init__("that approval PIN is not valid", reason="invalid_pin")
        self.venue_id = venue_id
        self.terminal_id = terminal_id

    def record(self, conn: Any) -> bool:
        """Count the failure (and start a lock if this was one too many: then True)."""
        return record_failure(conn, self.venue_id, self.terminal_id)


Emit = Callable[[str, dict[str, Any]], object]


def verify_approval(
    conn: Any,
    settings: Settings,
    venue_id: str,
    approval: dict[str, Any] | None,
    *,
    terminal_id: str | None,
    command: str | None = None,
    emit: Emit | None = None,
) -> str:
    """Check a manager's approval PIN inside the command's transaction; return the approver's id.

    Records `auth.approval_granted` (through `emit`, the executor's event sink, when given; else
    straight into the event log) so the audit log says who approved what.

    Raises:
        ApprovalRequired: no approval given, or a malformed one.
        ApprovalPinRejected: (an ApprovalRequired, `reason: invalid_pin`) no active staff
            member of this venue has that PIN. Record it with `exc.record` after rollback.
        Forbidden: the PIN belongs to someone who is not a manager or owner.
        RateLimited: PIN entry on this terminal or venue is locked.
    """
    pin = approval.get("pin") if isinstance(approval, dict) else None
    if not isinstance(pin, str) or not pin:
        raise ApprovalRequired("this needs a manager's approval PIN")
    try:
        validate_pin(pin)
    except FynloError:
        raise ApprovalRequired("that approval PIN is not valid", reason="invalid_pin") from None
    ensure_unlocked(conn, venue_id, terminal_id)
    approver = find_by_pin(conn, settings.secret_key, venue_id, pin)
    if approver is None or not verify_secret(approver["pin_hash"], pin).ok:
        raise ApprovalPinRejected(venue_id, terminal_id)
    if Role(approver["role"]) not in MANAGERS:
        raise Forbidden("approval needs a manager's or owner's PIN", reason="not_a_manager")
    approver_id = str(approver["id"])
    data = {"approver": approver_id, "command": command, "terminal_id": terminal_id}
    if emit is not None:
        emit("auth.approval_granted", data)
    else:
        append_event(conn, venue_id, "auth.approval_granted", data)
    return approver_id
