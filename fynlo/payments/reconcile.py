"""Reconciliation with Stripe, and the money reports: the platform-fee ledger and tips by staff.

`payment.reconcile` compares one business day's card payments with Stripe's list of
PaymentIntents and repairs what a lost webhook left behind: a payment Stripe calls
`succeeded` that we still hold as pending is settled here (receipt, order, events) exactly as
the webhook would have done. It runs in its own actor per venue and writes each order under
the order's row lock; that order's actor sees the new version at its next command and
reloads (the same rule a split follows).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import partial
from typing import Any, Hashable
from zoneinfo import ZoneInfo

from fynlo.auth.principal import Principal
from fynlo.commands.calls import OutsideCall
from fynlo.commands.spec import query, write
from fynlo.commands.unit import Tx
from fynlo.errors import FynloError
from fynlo.orders import repo as orders
from fynlo.payments import repo
from fynlo.payments.args import FeeLedgerArgs, ReconcileArgs
from fynlo.payments.card import apply_intent
from fynlo.payments.stripe_gateway import Intent
from fynlo.runtime.entity import loader
from fynlo.venues.commands import read_venue


def _venue_key(args: Any, principal: Principal) -> Hashable:
    return ("reconcile", principal.venue_id)


@loader("reconcile")
def _nothing(conn: Any, venue_id: str, entity_id: str) -> None:
    return None


def day_bounds(day: Any, timezone: str, day_start: str) -> tuple[datetime, datetime]:
    """A business day as an instant range: from its start (04:00 local by default) to the next."""
    hours, minutes = (int(x) for x in day_start.split(":"))
    start = datetime.combine(day, time(hours, minutes), ZoneInfo(timezone))
    return start, start + timedelta(days=1)


@write("payment.reconcile", ReconcileArgs, actor=_venue_key)
def reconcile(tx: Tx, state: None, args: ReconcileArgs) -> tuple[Any, None]:
    settings = read_venue(tx.conn, tx.venue_id).settings
    start, end = day_bounds(args.day, settings.timezone, settings.business_day_start)

    async def listing(providers: Any) -> list[Intent]:
        # a minute's slack either side: our row and Stripe's intent are stamped a moment apart
        return await providers.stripe.list_intents(created_gte=int(start.timestamp()) - 60,
                                                   created_lt=int(end.timestamp()) + 60)

    return OutsideCall(run=listing, finish=partial(_compare, window=(start, end))), None


def _compare(tx: Tx, state: None, outcome: list[Intent] | FynloError, *,
             window: tuple[datetime, datetime]) -> tuple[Any, None]:
    if isinstance(outcome, FynloError):
        return outcome, None
    ours = [i for i in outcome if i.metadata.get("venue_id") == tx.venue_id]
    seen: set[str] = set()
    repaired, unmatched = [], []
    for intent in ours:
        payment = repo.by_provider_ref(tx.conn, "card", intent.id) or _by_metadata(tx, intent)
        if payment is None:
            unmatched.append({"intent": intent.id, "status": intent.status, "amount": intent.amount})
            continue
        seen.add(str(payment["id"]))
        order = orders.load(tx.conn, tx.venue_id, str(payment["order_id"]), lock=True)
        payment = repo.get(tx.conn, tx.venue_id, str(payment["id"]), lock=True)
        assert order is not None and payment is not None
        before = payment["status"]
        payment, _ = apply_intent(tx, order, payment, intent)
        if payment["status"] != before:
            repaired.append({"payment_id": str(payment["id"]), "order_id": str(payment["order_id"]),
                             "from": before, "to": payment["status"], "intent": intent.id})
    start, end = window
    missing = [str(r["id"]) for r in tx.conn.execute(
        "SELECT id FROM payments WHERE venue_id = %s AND method = 'card' AND provider_ref IS NOT NULL"
        " AND created_at >= %s AND created_at < %s", (tx.venue_id, start, end)).fetchall() if str(r["id"]) not in seen]
    result = {"day": str(tx.command.args["day"]), "checked": len(ours), "repaired": repaired,
              "unmatched_intents": unmatched, "missing_at_stripe": missing}
    tx.emit("payment.reconciled", result)
    return result, None


def _by_metadata(tx: Tx, intent: Intent) -> dict[str, Any] | None:
    claimed = intent.metadata.get("payment_id")
    if not claimed:
        return None
    payment = repo.get(tx.conn, tx.venue_id, claimed)
    return payment if payment and payment["method"] == "card" and payment["provider_ref"] in (None, intent.id) else None


@query("report.platform_fees", FeeLedgerArgs)
def platform_fees(conn: Any, principal: Principal, args: FeeLedgerArgs) -> dict[str, Any]:
    """What each day's payments cost the venue: the provider's fees and the platform's, by method."""
    settings = read_venue(conn, principal.venue_id).settings
    rows = conn.execute(
        "SELECT (settled_at AT TIME ZONE %(tz)s)::date AS day, method, count(*) AS payments,"
        " sum(captured) AS captured, sum(surcharge) AS surcharges, sum(processing_fee) AS processing,"
        " sum(platform_fee) AS platform FROM payments WHERE venue_id = %(v)s AND status = 'succeeded'"
        " AND (settled_at AT TIME ZONE %(tz)s)::date BETWEEN %(a)s AND %(b)s GROUP BY 1, 2 ORDER BY 1, 2",
        {"tz": settings.timezone, "v": principal.venue_id, "a": args.date_from, "b": args.date_to}).fetchall()
    figures = ("payments", "captured", "surcharges", "processing", "platform")
    days = [{"day": r["day"].isoformat(), "method": r["method"], **{k: int(r[k]) for k in figures}} for r in rows]
    totals = {k: sum(d[k] for d in days) for k in figures}
    return {"currency": settings.currency, "platform_fee_percent": settings.platform_fee_percent,
            "rows": days, "totals": totals}


@query("report.tips", FeeLedgerArgs)
def tips(conn: Any, principal: Principal, args: FeeLedgerArgs) -> dict[str, Any]:
    """Tips per member of staff who took the payment, by method, net of nothing (tips are theirs)."""
    settings = read_venue(conn, principal.venue_id).settings
    rows = conn.execute(
        "SELECT p.staff_id, s.name, p.method, count(*) FILTER (WHERE p.tip > 0) AS tipped, sum(p.tip) AS tips"
        " FROM payments p LEFT JOIN staff s ON s.id = p.staff_id WHERE p.venue_id = %(v)s AND p.status = 'succeeded'"
        " AND (p.settled_at AT TIME ZONE %(tz)s)::date BETWEEN %(a)s AND %(b)s GROUP BY 1, 2, 3 HAVING sum(p.tip) > 0"
        " ORDER BY 2, 3",
        {"tz": settings.timezone, "v": principal.venue_id, "a": args.date_from, "b": args.date_to}).fetchall()
    return {"currency": settings.currency, "rows": [
        {"staff_id": str(r["staff_id"]) if r["staff_id"] else None, "name": r["name"], "method": r["method"],
         "tipped_payments": int(r["tipped"]), "tips": int(r["tips"])} for r in rows]}
