"""The cash ledger: every movement of cash in or out of a till, as signed rows never changed.

Why a ledger and not a running balance on the till row: a balance can drift and cannot say why;
a ledger is its own audit trail, and the trigger in 0007_payments.sql refuses any UPDATE or
DELETE. Each row's `amount` is what it adds to the drawer, so

    expected = Σ amount = float + cash sales − cash refunds + paid in − paid out − drops

(the float is the till's first row; a no_sale moves nothing). Change is never in the ledger: a
cash sale records the amount the drawer keeps, not what the customer tendered.

These are plain SQL helpers on a psycopg connection (dict rows), called inside the caller's
transaction: the till commands, and the payment commands taking cash for an order. Every
caller locks the till row first (`lock_open_till`, `open_till_for_terminal_later`), so a check such as
"is there enough cash for this refund" cannot race another writer of the same till.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from fynlo.errors import Conflict, NotFound

__all__ = [
    "KINDS",
    "append",
    "expected_cash",
    "lock_open_till",
    "lock_open_till_later",
    "open_till_for_terminal_later",
    "sign_ok",
    "take_cash",
]

# Each kind's amount, signed as it changes the drawer.
_SIGN: Final[dict[str, Callable[[int], bool]]] = {
    "float": lambda a: a >= 0,
    "sale": lambda a: a > 0,
    "refund": lambda a: a < 0,
    "paid_in": lambda a: a > 0,
    "paid_out": lambda a: a < 0,
    "drop": lambda a: a < 0,
    "no_sale": lambda a: a == 0,
}
KINDS: Final = frozenset(_SIGN)
# The kinds that take cash out, and so may not take the drawer below zero.
_OUTGOING: Final = frozenset({"refund", "paid_out", "drop"})


def sign_ok(kind: str, amount: int) -> bool:
    """Whether `amount` has the sign its kind requires (paid_in > 0, drop < 0, no_sale = 0…).

    Raises:
        ValueError: `kind` is not a ledger kind.
    """
    rule = _SIGN.get(kind)
    if rule is None:
        raise ValueError(f"not a cash ledger kind: {kind!r}")
    return rule(amount)


def lock_open_till(conn: Any, venue_id: str, till_id: str) -> dict[str, Any]:
    """The till row, locked FOR UPDATE until the caller's transaction ends.

    Raises:
        NotFound: no till of this venue has that id.
        Conflict: (`reason: till_not_open`) the till is closed.
    """
    return lock_open_till_later(conn, venue_id, till_id)()


def lock_open_till_later(conn: Any, venue_id: str, till_id: str) -> Callable[[], dict[str, Any]]:
    """`lock_open_till`, its statement sent now and its answer checked when the returned call asks."""
    sent = conn.execute("SELECT * FROM tills WHERE id = %s AND venue_id = %s FOR UPDATE", (till_id, venue_id))

    def answer() -> dict[str, Any]:
        till = sent.fetchone()
        if till is None:
            raise NotFound("no such till", till_id=str(till_id))
        if till["status"] != "open":
            raise Conflict("the till is not open", reason="till_not_open", till_id=str(till_id))
        return dict(till)
    return answer


def open_till_for_terminal_later(conn: Any, venue_id: str,
                                 terminal_id: str | None) -> Callable[[], dict[str, Any] | None]:
    """The open till this terminal opened (its drawer's), locked FOR UPDATE; None if it has none.
    The statement is sent now; the call this returns reads it.

    A till records the terminal that opened it. Should one terminal have opened tills on two
    drawers, the one opened last is taken. The dashboard (no terminal) has no till.
    """
    if terminal_id is None:
        return lambda: None
    sent = conn.execute(
        "SELECT * FROM tills WHERE venue_id = %s AND terminal_id = %s AND status = 'open'"
        " ORDER BY opened_at DESC, id LIMIT 1 FOR UPDATE",
        (venue_id, terminal_id),
    )

    def answer() -> dict[str, Any] | None:
        till = sent.fetchone()
        return None if till is None else dict(till)
    return answer


def append(conn: Any, venue_id: str, till_id: str, kind: str, amount: int, *, payment_id: str | None = None,
           refund_id: str | None = None, movement_id: str | None = None, reason: str = "",
           staff_id: str | None = None) -> None:
    """Add one row to the till's ledger. Call with the till locked and open.

    It does not check that the drawer holds enough cash: outgoing cash goes through `take_cash`.

    Raises:
        ValueError: an unknown kind, or an amount whose sign the kind does not allow (a bug in
            the caller: amounts reach here already validated).
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or not sign_ok(kind, amount):
        raise ValueError(f"a {kind} of {amount!r} has the wrong sign or type")
    conn.execute(
        "INSERT INTO cash_ledger (venue_id, till_id, kind, amount, payment_id, refund_id, movement_id, reason,"
        " staff_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (venue_id, till_id, kind, amount, payment_id, refund_id, movement_id, reason, staff_id),
    )


def expected_cash(conn: Any, till_id: str) -> int:
    """What the drawer should hold now: the float plus every signed movement since."""
    row = conn.execute("SELECT coalesce(sum(amount), 0)::bigint AS total FROM cash_ledger WHERE till_id = %s",
                       (till_id,)).fetchone()
    return int(row["total"])


def take_cash(conn: Any, venue_id: str, till_id: str, kind: str, amount: int, *, refund_id: str | None = None,
              movement_id: str | None = None, reason: str = "", staff_id: str | None = None) -> int:
    """Take `amount` (> 0) out of an open till as a refund, paid out or drop; return what is left.

    Locks the till, so two refunds at once cannot both spend the same cash.

    Raises:
        NotFound / Conflict(`till_not_open`): as `lock_open_till`.
        Conflict: (`reason: not_enough_cash`, with `available` and `requested`) the drawer holds
            less than `amount`; nothing is written.
        ValueError: `kind` is not an outgoing kind or `amount` is not > 0 (a caller's bug).
    """
    if kind not in _OUTGOING or isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"take_cash takes a positive amount as refund, paid_out or drop, not {kind} {amount!r}")
    lock_open_till(conn, venue_id, till_id)
    available = expected_cash(conn, till_id)
    if amount > available:
        raise Conflict("the drawer does not hold that much cash", reason="not_enough_cash",
                       available=available, requested=amount)
    append(conn, venue_id, till_id, kind, -amount, refund_id=refund_id, movement_id=movement_id, reason=reason,
           staff_id=staff_id)
    return available - amount
