"""The till commands: open with a float, move cash in and out, read an X, close with a Z.

Every till is an actor (`("till", till_id)`), but it is not the only writer of its ledger: the
order actors add cash sales and refunds to it inside their own transactions. So the handlers
never trust the actor's state for amounts: they read the till row fresh under FOR UPDATE (after
the venue row, which every write of a venue locks first) and sum the ledger.

Blind close: when the venue's `blind_close` is on, only managers and owners see what the drawer
should hold; staff count without knowing, and their replies (and the Z they print) omit `expected`
and `variance`. The `till.closed` event reaches every terminal, so under blind close it never
carries them. The stored Z always keeps both.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Literal
from uuid import UUID

from psycopg.types.json import Jsonb
from pydantic import Field, StrictInt, model_validator

from fynlo.auth.permissions import MANAGERS
from fynlo.auth.principal import Principal
from fynlo.commands.spec import Args, query, write
from fynlo.commands.unit import Tx
from fynlo.errors import Conflict, NotFound
from fynlo.printing.jobs import queue
from fynlo.runtime.entity import loader
from fynlo.tills import ledger, reports
from fynlo.venues.commands import read_venue
from fynlo.venues.model import printed_header

Result = tuple[dict[str, Any], dict[str, Any] | None]

MAX_CASH = 100_000_000  # £1m in pence: far beyond any drawer, far inside bigint


def till_actor(args: Any, principal: Principal) -> Hashable:
    return ("till", str(args.till_id))


@loader("till")
def load_till(conn: Any, venue_id: str, till_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM tills WHERE id = %s AND venue_id = %s", (till_id, venue_id)).fetchone()
    return None if row is None else dict(row)


def _blind_close(conn: Any, venue_id: str) -> bool:
    return read_venue(conn, venue_id).settings.blind_close


def _sees_expected(principal: Principal, blind: bool) -> bool:
    """Whether this person may see what the drawer should hold (module docstring)."""
    return principal.role in MANAGERS or not blind


def _kick(tx: Tx, drawer: str, reason: str) -> str:
    """Open the drawer: a job for the bridge, which maps the drawer name to its device."""
    return queue(tx, key="drawer_kick", kind="drawer_kick", station=drawer, order_id=None,
                 document={"drawer": drawer, "reason": reason})


def _view(till: dict[str, Any]) -> dict[str, Any]:
    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return {"till_id": str(till["id"]), "drawer": till["drawer"], "status": till["status"],
            "float": int(till["float"]), "terminal_id": text(till["terminal_id"]),
            "opened_by": text(till["opened_by"]), "opened_at": till["opened_at"].isoformat()}


class OpenArgs(Args):
    till_id: UUID
    opening_float: StrictInt = Field(alias="float", ge=0, le=MAX_CASH)
    drawer: str = Field(default="main", min_length=1, max_length=40)


@write("till.open", OpenArgs, actor=till_actor)
def till_open(tx: Tx, state: dict[str, Any] | None, args: OpenArgs) -> Result:
    till_id = str(args.till_id)
    if tx.conn.execute("SELECT 1 FROM tills WHERE id = %s", (till_id,)).fetchone() is not None:
        raise Conflict("a till with this id already exists", reason="till_exists", till_id=till_id)
    other = tx.conn.execute("SELECT id FROM tills WHERE venue_id = %s AND drawer = %s AND status = 'open'",
                            (tx.venue_id, args.drawer)).fetchone()
    if other is not None:
        raise Conflict("this drawer already has an open till", reason="drawer_has_open_till",
                       drawer=args.drawer, till_id=str(other["id"]))
    till = tx.conn.execute(
        "INSERT INTO tills (id, venue_id, drawer, terminal_id, status, float, opened_by)"
        " VALUES (%s, %s, %s, %s, 'open', %s, %s) RETURNING *",
        (till_id, tx.venue_id, args.drawer, tx.principal.terminal_id, args.opening_float, tx.principal.staff_id),
    ).fetchone()
    ledger.append(tx.conn, tx.venue_id, till_id, "float", args.opening_float, staff_id=tx.principal.staff_id)
    view = _view(till)
    tx.emit("till.opened", view)
    return {**view, "job_id": _kick(tx, args.drawer, "till_open")}, dict(till)


MovementKind = Literal["paid_in", "paid_out", "drop", "no_sale"]


class MovementArgs(Args):
    till_id: UUID
    movement_id: UUID
    amount: StrictInt = Field(ge=-MAX_CASH, le=MAX_CASH)
    reason: str = Field(min_length=1, max_length=200)
    kind: MovementKind | None = None

    @model_validator(mode="after")
    def _sign_matches_kind(self) -> MovementArgs:
        if not ledger.sign_ok(self.movement_kind, self.amount):
            raise ValueError("paid_in is > 0, paid_out and drop are < 0, no_sale is 0")
        return self

    @property
    def movement_kind(self) -> MovementKind:
        """As given; without one, money in is paid_in and anything else paid_out."""
        if self.kind is not None:
            return self.kind
        return "paid_in" if self.amount > 0 else "paid_out"


@write("till.cash_movement", MovementArgs, actor=till_actor)
def cash_movement(tx: Tx, state: dict[str, Any] | None, args: MovementArgs) -> Result:
    till_id, movement_id, kind = str(args.till_id), str(args.movement_id), args.movement_kind
    till = ledger.lock_open_till(tx.conn, tx.venue_id, till_id)
    if tx.conn.execute("SELECT 1 FROM cash_ledger WHERE till_id = %s AND movement_id = %s",
                       (till_id, movement_id)).fetchone() is not None:
        raise Conflict("this movement id was already used on this till", reason="movement_exists",
                       movement_id=movement_id)
    who = tx.principal.staff_id
    if args.amount < 0:
        ledger.take_cash(tx.conn, tx.venue_id, till_id, kind, -args.amount, movement_id=movement_id,
                         reason=args.reason, staff_id=who)
    else:
        ledger.append(tx.conn, tx.venue_id, till_id, kind, args.amount, movement_id=movement_id,
                      reason=args.reason, staff_id=who)
    view = {"till_id": till_id, "movement_id": movement_id, "kind": kind, "amount": args.amount,
            "reason": args.reason, "staff_id": who}
    tx.emit("till.cash_moved", view)
    return {**view, "job_id": _kick(tx, till["drawer"], kind)}, till


class ReportArgs(Args):
    till_id: UUID


@query("till.x_report", ReportArgs)
def x_report(conn: Any, principal: Principal, args: ReportArgs) -> dict[str, Any]:
    """The session so far; for a closed till, its stored Z."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")  # one snapshot for every figure
    till = load_till(conn, principal.venue_id, str(args.till_id))
    if till is None:
        raise NotFound("no such till", till_id=str(args.till_id))
    if till["status"] == "closed":
        report = conn.execute("SELECT data FROM z_reports WHERE till_id = %s", (till["id"],)).fetchone()["data"]
    else:
        report = reports.build(conn, principal.venue_id, till)
    return reports.for_viewer(report, _sees_expected(principal, _blind_close(conn, principal.venue_id)))


class CloseArgs(Args):
    till_id: UUID
    counted: StrictInt = Field(ge=0, le=MAX_CASH)


@write("till.close", CloseArgs, actor=till_actor)
def till_close(tx: Tx, state: dict[str, Any] | None, args: CloseArgs) -> Result:
    """Count the drawer and close; a variance is recorded, never a reason to refuse."""
    till_id = str(args.till_id)
    ledger.lock_open_till(tx.conn, tx.venue_id, till_id)
    expected = ledger.expected_cash(tx.conn, till_id)
    variance = args.counted - expected
    z_number = tx.conn.execute("UPDATE venues SET last_z = last_z + 1 WHERE id = %s RETURNING last_z",
                               (tx.venue_id,)).fetchone()["last_z"]
    till = dict(tx.conn.execute(
        "UPDATE tills SET status = 'closed', closed_by = %s, closed_at = now(), expected = %s, counted = %s,"
        " variance = %s, z_number = %s WHERE id = %s RETURNING *",
        (tx.principal.staff_id, expected, args.counted, variance, z_number, till_id),
    ).fetchone())
    report = reports.build(tx.conn, tx.venue_id, till)
    tx.conn.execute("INSERT INTO z_reports (venue_id, number, till_id, data) VALUES (%s, %s, %s, %s)",
                    (tx.venue_id, z_number, till_id, Jsonb(report)))
    blind = _blind_close(tx.conn, tx.venue_id)
    sees = _sees_expected(tx.principal, blind)
    event = {"till_id": till_id, "drawer": till["drawer"], "z_number": z_number, "counted": args.counted,
             "expected": expected, "variance": variance, "closed_by": tx.principal.staff_id,
             "closed_at": report["closed_at"]}
    tx.emit("till.closed", reports.for_viewer(event, not blind))  # every terminal sees the event
    shown = reports.for_viewer(report, sees)
    job_id = queue(tx, key="z_report", kind="report", station="receipt", order_id=None,
                   document={**shown, "report": "z", "venue": printed_header(read_venue(tx.conn, tx.venue_id).settings)})
    reply = {"till_id": till_id, "z_number": z_number, "expected": expected, "counted": args.counted,
             "variance": variance, "report": shown, "job_id": job_id}
    return reports.for_viewer(reply, sees), till
