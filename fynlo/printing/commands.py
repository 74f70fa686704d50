"""What the venue bridge says and asks (print job outcomes, device states, scans), and reprints.

The bridge is a registered device signed in on /ws/bridge with role `bridge`; it speaks the same
command envelope as a terminal. Writes go through one actor per venue, `("devices", venue)`.
"""

from __future__ import annotations

from typing import Any, Hashable, Literal
from uuid import UUID

from pydantic import Field

from fynlo.auth.principal import Principal
from fynlo.commands.spec import Args, query, write
from fynlo.commands.unit import Tx
from fynlo.errors import Conflict, NotFound, Unauthenticated
from fynlo.printing.jobs import AUTO_COPY_KINDS, FINAL, copy_job, job_view
from fynlo.runtime.entity import loader

Result = tuple[dict[str, Any], None]


def devices_actor(args: Any, principal: Principal) -> Hashable:
    return ("devices", principal.venue_id)


@loader("devices")
def load_devices(conn: Any, venue_id: str, entity_id: str) -> None:
    """Stateless: job and device rows are kept right by SQL in each command's transaction."""
    return None


def live_bridge(conn: Any, principal: Principal) -> None:
    """A revoked bridge is cut off at its next command, not only at its next sign-in."""
    row = conn.execute("SELECT 1 FROM terminals WHERE id = %s AND kind = 'bridge' AND revoked_at IS NULL",
                       (principal.staff_id,)).fetchone()
    if row is None:
        raise Unauthenticated("this bridge was revoked")


def _job(tx: Tx, job_id: str) -> dict[str, Any]:
    row = tx.conn.execute("SELECT * FROM print_jobs WHERE id = %s AND venue_id = %s FOR UPDATE",
                          (job_id, tx.venue_id)).fetchone()
    if row is None:
        raise NotFound("no such print job", job_id=job_id)
    return row


class PendingArgs(Args):
    limit: int = Field(default=200, ge=1, le=1000)


@query("job.pending", PendingArgs)
def job_pending(conn: Any, principal: Principal, args: PendingArgs) -> dict[str, Any]:
    """Jobs not yet printed or given up, oldest first, with their documents (the bridge's to-do)."""
    live_bridge(conn, principal)
    rows = conn.execute(
        "SELECT * FROM print_jobs WHERE venue_id = %s AND status IN ('queued', 'sent')"
        " ORDER BY created_at, id LIMIT %s", (principal.venue_id, args.limit)).fetchall()
    return {"jobs": [{**job_view(r), "status": r["status"], "document": r["document"],
                      "created_at": r["created_at"].isoformat()} for r in rows]}


class ReportArgs(Args):
    job_id: UUID
    status: Literal["received", "printed", "failed", "unknown"]
    device: str = Field(min_length=1, max_length=80)
    detail: str = Field(default="", max_length=500)


@write("job.report", ReportArgs, actor=devices_actor)
def job_report(tx: Tx, state: None, args: ReportArgs) -> Result:
    """The bridge says what became of a job. Reporting the same outcome twice changes nothing."""
    live_bridge(tx.conn, tx.principal)
    job = _job(tx, str(args.job_id))
    status = "sent" if args.status == "received" else args.status
    if job["status"] == status or (status == "sent" and job["status"] in FINAL):
        return {"job_id": str(job["id"]), "status": job["status"]}, None
    if job["status"] in FINAL:
        raise Conflict(f"the job is already {job['status']}", reason="job_final", status=job["status"])
    row = tx.conn.execute(
        "UPDATE print_jobs SET status = %s, device = %s, detail = %s, updated_at = now() WHERE id = %s"
        " RETURNING id, order_id, kind, station, copy, device",
        (status, args.device, args.detail or None, job["id"]),
    ).fetchone()
    result: dict[str, Any] = {"job_id": str(job["id"]), "status": status}
    if status in FINAL:
        tx.emit(f"job.{status}", {**job_view(row), "detail": args.detail or None})
    if status == "unknown" and job["kind"] in AUTO_COPY_KINDS:
        result["copy_job_id"] = copy_job(tx, job, key=f"auto-copy/{job['id']}")
    return result, None


class ReprintArgs(Args):
    job_id: UUID


@write("job.reprint", ReprintArgs, actor=devices_actor)
def job_reprint(tx: Tx, state: None, args: ReprintArgs) -> Result:
    """Print a job again as a marked COPY (a person asked: a reprint is never a second original)."""
    job = _job(tx, str(args.job_id))
    if job["kind"] == "drawer_kick":
        raise Conflict("a drawer kick is not reprinted", reason="not_printable")
    return {"job_id": copy_job(tx, job, key="reprint")}, None


class DeviceArgs(Args):
    device: str = Field(min_length=1, max_length=80)
    kind: Literal["printer", "drawer", "scanner"]
    status: Literal["online", "offline", "paper_out", "paper_low", "cover_open", "drawer_open", "drawer_closed",
                    "unknown"]
    detail: str = Field(default="", max_length=500)


@write("device.report", DeviceArgs, actor=devices_actor)
def device_report(tx: Tx, state: None, args: DeviceArgs) -> Result:
    """A device's state; every terminal sees a change as `device.status`."""
    live_bridge(tx.conn, tx.principal)
    before = tx.conn.execute("SELECT status, kind FROM devices WHERE venue_id = %s AND name = %s FOR UPDATE",
                             (tx.venue_id, args.device)).fetchone()
    data = {"device": args.device, "kind": args.kind, "status": args.status, "detail": args.detail or None}
    if before is not None and before["status"] == args.status and before["kind"] == args.kind:
        return data, None
    tx.conn.execute(
        "INSERT INTO devices (venue_id, name, kind, status, bridge_id, detail) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (venue_id, name) DO UPDATE SET kind = EXCLUDED.kind, status = EXCLUDED.status,"
        " bridge_id = EXCLUDED.bridge_id, detail = EXCLUDED.detail, updated_at = now()",
        (tx.venue_id, args.device, args.kind, args.status, tx.principal.staff_id, args.detail or None),
    )
    tx.emit("device.status", data)
    return data, None


class ScanArgs(Args):
    device: str = Field(min_length=1, max_length=80)
    barcode: str = Field(min_length=1, max_length=64)
    terminal_id: UUID | None = None


@write("scan.report", ScanArgs, actor=devices_actor)
def scan_report(tx: Tx, state: None, args: ScanArgs) -> Result:
    """A scan becomes a `scan` event to the paired terminal, naming the item the code is for."""
    live_bridge(tx.conn, tx.principal)
    item = tx.conn.execute(
        "SELECT id, name, price, available FROM menu_items WHERE venue_id = %s AND (barcode = %s OR sku = %s)"
        " ORDER BY barcode = %s DESC LIMIT 1", (tx.venue_id, args.barcode, args.barcode, args.barcode)).fetchone()
    data = {
        "device": args.device, "terminal_id": str(args.terminal_id) if args.terminal_id else None,
        "barcode": args.barcode,
        "item": None if item is None else {"item_id": str(item["id"]), "name": item["name"], "price": item["price"],
                                           "available": item["available"]},
        "error": "unknown_barcode" if item is None else None,
    }
    tx.emit("scan", data)
    return data, None


class DeviceListArgs(Args):
    pass


@query("device.list", DeviceListArgs)
def device_list(conn: Any, principal: Principal, args: DeviceListArgs) -> dict[str, Any]:
    rows = conn.execute("SELECT name, kind, status, detail, updated_at FROM devices WHERE venue_id = %s ORDER BY name",
                        (principal.venue_id,)).fetchall()
    return {"devices": [{"device": r["name"], "kind": r["kind"], "status": r["status"], "detail": r["detail"],
                         "updated_at": r["updated_at"].isoformat()} for r in rows]}
