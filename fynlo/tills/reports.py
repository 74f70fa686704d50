"""X and Z reports: one builder for the figures of one till's session.

An X report is the session so far (read at any time, changes nothing); a Z report is the same
figures taken at close, with the count, numbered and stored for good. Sharing one builder
means a Z never disagrees with the last X taken before it on anything but the count.

Attribution (which till a figure belongs to), so that every figure counts on exactly one till:
- a payment or a refund counts on the till recorded in its own `till_id` column (the till open
  on the terminal that took it), whatever its method;
- an order's sales (gross, discounts, VAT, service charge, voids) count once, on the till of
  its latest succeeded payment, and only when its payment_status is paid, part_refunded or
  refunded. An order paid across two tills is sold on the one that took the last payment; a
  part-paid order is nobody's sale yet, though its payments already count where they were taken.

Definitions (minor units; prices include VAT, so VAT is found inside them, never added):
- `gross_sales`: the attributed orders' line prices before discounts (`Totals.subtotal`);
- `discounts`: line and order discounts; `net_sales` = gross_sales − discounts;
- `service_charge`, `gratuity`: as on the orders; `sales_total` = Σ order totals;
- `vat`: per rate, the orders' VAT bands summed (`net + tax = gross`);
- `voids`: void lines on those orders (their price, which no one pays);
- `payments`: succeeded payments per method, their `amount` towards orders, `tip` apart;
- `refunds`: succeeded refunds, per method of the payment refunded;
- `cash_movements`: the ledger per kind with signed amounts, so
  `expected = float + Σ cash_movements amounts`; `counted` and `variance` (counted − expected)
  are null on an X.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from fynlo.orders import repo as orders
from fynlo.orders.model import LineState
from fynlo.tills.ledger import expected_cash

__all__ = ["METHODS", "build", "for_viewer"]

METHODS: Final = ("cash", "card", "open_banking")
_MOVEMENTS: Final = ("sale", "refund", "paid_in", "paid_out", "drop", "no_sale")

_ATTRIBUTED = """
WITH latest AS (
    SELECT DISTINCT ON (p.order_id) p.order_id, p.till_id
      FROM payments p
     WHERE p.venue_id = %(venue)s AND p.status = 'succeeded' AND p.order_id IN (
           SELECT order_id FROM payments WHERE venue_id = %(venue)s AND till_id = %(till)s AND status = 'succeeded')
     ORDER BY p.order_id, p.settled_at DESC NULLS LAST, p.created_at DESC, p.id DESC)
SELECT o.id FROM latest l JOIN orders o ON o.id = l.order_id
 WHERE l.till_id = %(till)s AND o.payment_status IN ('paid', 'part_refunded', 'refunded')
 ORDER BY o.id
"""


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _str(value: Any) -> str | None:
    return str(value) if value is not None else None


def _sales(conn: Any, venue_id: str, till_id: str) -> dict[str, Any]:
    """The figures of the orders sold on this till (module docstring), read from their totals."""
    ids = [str(r["id"]) for r in conn.execute(_ATTRIBUTED, {"venue": venue_id, "till": till_id}).fetchall()]
    figures = {"tickets": 0, "gross_sales": 0, "discounts": 0, "net_sales": 0, "service_charge": 0,
               "gratuity": 0, "sales_total": 0}
    bands: dict[str, dict[str, int]] = {}
    voids = {"count": 0, "amount": 0}
    for order_id in ids:
        order = orders.load(conn, venue_id, order_id)
        if order is None:
            continue
        totals = order.totals()
        figures["tickets"] += 1
        figures["gross_sales"] += totals.subtotal
        figures["discounts"] += totals.discounts
        figures["net_sales"] += totals.after_discounts
        figures["service_charge"] += totals.service_charge
        figures["gratuity"] += totals.gratuity
        figures["sales_total"] += totals.total
        for band in totals.vat:
            acc = bands.setdefault(band.rate, {"net": 0, "tax": 0, "gross": 0})
            acc["net"] += band.net
            acc["tax"] += band.vat
            acc["gross"] += band.gross
        for line in order.lines:
            if line.state is LineState.VOID:
                voids["count"] += 1
                voids["amount"] += line.gross
    vat = [{"rate": rate, **bands[rate]} for rate in sorted(bands, key=Decimal)]
    return {**figures, "vat": vat, "voids": voids}


def _payments(conn: Any, venue_id: str, till_id: str) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT method, count(*) AS n, coalesce(sum(amount), 0)::bigint AS amount,"
        " coalesce(sum(tip), 0)::bigint AS tip, coalesce(sum(surcharge), 0)::bigint AS surcharge"
        " FROM payments WHERE venue_id = %s AND till_id = %s AND status = 'succeeded' GROUP BY method",
        (venue_id, till_id),
    ).fetchall()
    found = {r["method"]: r for r in rows}
    payments = {m: {"count": int(found[m]["n"]) if m in found else 0,
                    "amount": int(found[m]["amount"]) if m in found else 0,
                    "surcharge": int(found[m]["surcharge"]) if m in found else 0} for m in METHODS}
    tips = {m: int(found[m]["tip"]) if m in found else 0 for m in METHODS}
    return {"payments": payments, "tips": tips}


def _refunds(conn: Any, venue_id: str, till_id: str) -> dict[str, Any]:
    rows = conn.execute(
        "SELECT p.method, count(*) AS n, coalesce(sum(r.amount), 0)::bigint AS amount"
        " FROM refunds r JOIN payments p ON p.id = r.payment_id"
        " WHERE r.venue_id = %s AND r.till_id = %s AND r.status = 'succeeded' GROUP BY p.method",
        (venue_id, till_id),
    ).fetchall()
    found = {r["method"]: (int(r["n"]), int(r["amount"])) for r in rows}
    by_method = {m: {"count": found.get(m, (0, 0))[0], "amount": found.get(m, (0, 0))[1]} for m in METHODS}
    return {"count": sum(v["count"] for v in by_method.values()),
            "amount": sum(v["amount"] for v in by_method.values()), "by_method": by_method}


def _movements(conn: Any, till_id: str) -> dict[str, dict[str, int]]:
    rows = conn.execute(
        "SELECT kind, count(*) AS n, coalesce(sum(amount), 0)::bigint AS amount FROM cash_ledger"
        " WHERE till_id = %s AND kind <> 'float' GROUP BY kind",
        (till_id,),
    ).fetchall()
    found = {r["kind"]: r for r in rows}
    return {k: {"count": int(found[k]["n"]) if k in found else 0,
                "amount": int(found[k]["amount"]) if k in found else 0} for k in _MOVEMENTS}


def build(conn: Any, venue_id: str, till: dict[str, Any]) -> dict[str, Any]:
    """The report of `till` (a tills row): an X while it is open, its Z once closed.

    A closed till's expected, counted and variance are those its close recorded; an open till's
    expected is read from the ledger now.
    """
    till_id = str(till["id"])
    closed = till["status"] == "closed"
    return {
        "report": "z" if closed else "x",
        "z_number": till["z_number"],
        "till_id": till_id,
        "drawer": till["drawer"],
        "terminal_id": _str(till["terminal_id"]),
        "opened_at": _iso(till["opened_at"]),
        "opened_by": _str(till["opened_by"]),
        "closed_at": _iso(till["closed_at"]),
        "closed_by": _str(till["closed_by"]),
        **_sales(conn, venue_id, till_id),
        **_payments(conn, venue_id, till_id),
        "refunds": _refunds(conn, venue_id, till_id),
        "cash_movements": _movements(conn, till_id),
        "float": int(till["float"]),
        "expected": int(till["expected"]) if closed else expected_cash(conn, till_id),
        "counted": till["counted"],
        "variance": till["variance"],
    }


def for_viewer(report: dict[str, Any], sees_expected: bool) -> dict[str, Any]:
    """The report as this viewer may see it: under blind close, staff see neither what the
    drawer should hold nor how far their count was from it."""
    if sees_expected:
        return report
    return {k: v for k, v in report.items() if k not in ("expected", "variance")}
