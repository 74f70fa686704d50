"""Cash payments, and what every payment command shares: the order must be open, a payment
id names one attempt, and nothing is taken beyond what the order still owes.

Payments run in the order's actor (`("order", order_id)`), so two terminals paying the same
order queue behind each other: the second sees what the first took. The till's cash ledger is
shared by many orders, so it is kept right by its row lock in each transaction (fynlo/tills).
"""

from __future__ import annotations

from typing import Any, Callable

from fynlo.auth.principal import Principal
from fynlo.commands.spec import query, write
from fynlo.commands.unit import Tx
from fynlo.errors import Conflict, NotFound, ValidationError
from fynlo.money import split_evenly
from fynlo.orders.commands import Result, order_actor
from fynlo.orders.model import Order, OrderStatus
from fynlo.orders import repo as orders
from fynlo.payments import repo
from fynlo.payments.repo import Later
from fynlo.payments.args import CashArgs, ListArgs, PaymentArgs, QuoteArgs, SplitEvenArgs
from fynlo.payments.model import ACTIVE, Method, Status, quote, round_cash
from fynlo.payments.settle import fee_rates, kick_drawer, move
from fynlo.tills import ledger
from fynlo.venues.commands import read_venue


def payable(order: Order | None) -> Order:
    """The order, if money may still be taken for it."""
    if order is None:
        raise NotFound("no such order")
    if order.status is not OrderStatus.OPEN:
        raise Conflict(f"the order is {order.status}; it takes no payments", reason="order_not_open",
                       status=str(order.status))
    return order


def due(tx: Tx, order: Order, held: Later[int] | None = None) -> int:
    """What the order still owes once its pending attempts (a card on the reader) are counted
    (`held`, when the caller sent that read already)."""
    return order.totals().total - order.paid - (held or repo.held_later(tx.conn, order.id))()


def check_amount(amount: int, owed: int) -> None:
    """Refuse a payment when the order owes nothing, or an amount more than it owes."""
    if owed <= 0:
        raise Conflict("the order is already paid (or being paid)", reason="nothing_due", due=owed)
    if amount > owed:
        raise ValidationError("the amount is more than the order owes", field="amount", reason="amount_exceeds_due",
                              due=owed, amount=amount)


def existing_later(tx: Tx, args: PaymentArgs, method: Method, **same: Any) -> Later[dict[str, Any] | None]:
    """The payment this id already names, if it is the same attempt; another use is a conflict.
    The read is sent now and checked when the returned call asks."""
    sent = repo.get_later(tx.conn, tx.venue_id, str(args.payment_id))

    def answer() -> dict[str, Any] | None:
        row = sent()
        if row is None:
            return None
        mismatch = row["order_id"] != args.order_id or row["method"] != method or any(
            row[k] != v for k, v in same.items())
        if mismatch:
            raise Conflict("this payment id is already another payment", reason="payment_exists",
                           payment_id=str(args.payment_id))
        return row
    return answer


def till_for(tx: Tx, till_id: Any) -> dict[str, Any]:
    """The open till cash goes into or comes out of: the one named, else this terminal's."""
    return till_for_later(tx, till_id)()


def till_for_later(tx: Tx, till_id: Any) -> Later[dict[str, Any]]:
    """`till_for` without waiting: the read goes now, the till when the returned call asks;
    that refuses a till that is not open, or no open till on this terminal."""
    if till_id is not None:
        return ledger.lock_open_till_later(tx.conn, tx.venue_id, str(till_id))
    sent = ledger.open_till_for_terminal_later(tx.conn, tx.venue_id, tx.principal.terminal_id)

    def answer() -> dict[str, Any]:
        till = sent()
        if till is None:
            raise Conflict("no till is open on this terminal; open one (till.open) or name one",
                           reason="no_open_till")
        return till
    return answer


Starting = Callable[[], tuple[int, str | None]]


def starting_later(tx: Tx, order: Order, method: Method) -> Starting:
    """What a card or QR attempt reads before it starts, sent now (with the read of the
    payment id, one wait for all): the order's payments, what pending attempts hold, and this
    terminal's open till, if it has one (the payment counts on it, for its Z).

    The call this returns checks that no attempt of the method is active on the order, and
    answers what the order still owes (`due`) and the till's id."""
    payments = repo.for_order_later(tx.conn, order.id)
    held = repo.held_later(tx.conn, order.id)
    till = ledger.open_till_for_terminal_later(tx.conn, tx.venue_id, tx.principal.terminal_id)

    def answer() -> tuple[int, str | None]:
        active = [p for p in payments() if p["method"] == method and p["status"] in ACTIVE]
        if active:
            raise Conflict(_IN_PROGRESS[method], reason="payment_in_progress", payment_id=str(active[0]["id"]))
        row = till()
        return due(tx, order, held), str(row["id"]) if row else None
    return answer


_IN_PROGRESS = {Method.CARD: "a card payment is already in progress on this order",
                Method.OPEN_BANKING: "a QR payment is already waiting on this order"}


@write("payment.cash", CashArgs, actor=order_actor)
def cash(tx: Tx, order: Order | None, args: CashArgs) -> Result:
    """Take cash for the order into a till, record the change and open the drawer; refuses a payment id
    already used, more than the order owes (paying its cash-rounded balance settles it), or no open till."""
    order = payable(order)
    # Three reads sent together: one wait for PostgreSQL, not three.
    found = existing_later(tx, args, Method.CASH, amount=args.amount, tendered=args.tendered, tip=args.tip)
    held = repo.held_later(tx.conn, order.id)
    locked_till = till_for_later(tx, args.till_id)
    if found() is not None:
        raise Conflict("this cash payment was already taken", reason="payment_exists")
    owed = due(tx, order, held)
    step = read_venue(tx.conn, tx.venue_id).settings.cash_rounding
    # With cash rounding, paying off the whole rounded balance settles the order.
    settles = step > 1 and args.amount == round_cash(owed, step) and owed > 0
    towards = owed if settles else args.amount
    check_amount(towards, owed)
    kept = args.amount + args.tip
    till = locked_till()
    payment = repo.insert(tx.conn, {
        "id": str(args.payment_id), "venue_id": tx.venue_id, "order_id": order.id, "method": Method.CASH,
        "status": Status.PENDING, "amount": towards, "tip": args.tip, "tendered": args.tendered,
        "change": args.tendered - kept, "till_id": till["id"], "staff_id": tx.principal.staff_id,
        "terminal_id": tx.principal.terminal_id,
        "details": {"rounding": args.amount - towards} if settles else {},
    })
    ledger.append(tx.conn, tx.venue_id, str(till["id"]), "sale", kept, payment_id=str(payment["id"]),
                  staff_id=tx.principal.staff_id)
    payment, order = move(tx, order, payment, Status.SUCCEEDED, captured=kept)
    kick_drawer(tx, till["drawer"], order.id, "cash_payment")
    return {**repo.view(payment), "change": payment["change"], "order": order.view()}, order


@query("payment.quote", QuoteArgs)
def payment_quote(conn: Any, principal: Principal, args: QuoteArgs) -> dict[str, Any]:
    """For each method, what the customer pays for this amount (with any surcharge) and what
    the venue pays in fees."""
    settings = read_venue(conn, principal.venue_id).settings
    return {"amount": args.amount, "currency": settings.currency, "methods": quote(args.amount, fee_rates(settings))}


@query("payment.list", ListArgs)
def payment_list(conn: Any, principal: Principal, args: ListArgs) -> dict[str, Any]:
    """The order's payments and refunds; refuses an unknown order."""
    order = orders.load(conn, principal.venue_id, str(args.order_id))
    if order is None:
        raise NotFound("no such order")
    rows = repo.for_order(conn, order.id)
    refunds = conn.execute("SELECT * FROM refunds WHERE order_id = %s ORDER BY created_at", (order.id,)).fetchall()
    return {"order_id": order.id, "payments": [repo.view(r) for r in rows],
            "refunds": [repo.refund_view(r) for r in refunds]}


@query("payment.split_even", SplitEvenArgs)
def split_even(conn: Any, principal: Principal, args: SplitEvenArgs) -> dict[str, Any]:
    """What each of n guests pays to settle what is left: equal, the odd pennies spread."""
    order = orders.load(conn, principal.venue_id, str(args.order_id))
    if order is None:
        raise NotFound("no such order")
    left = order.totals().total - order.paid
    if left <= 0:
        raise Conflict("the order owes nothing", reason="nothing_due")
    return {"order_id": order.id, "due": left, "parts": split_evenly(left, args.ways)}
