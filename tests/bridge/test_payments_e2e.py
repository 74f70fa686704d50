"""Money through the bridge: a real server, a real bridge, simulated printers over TCP.

A cash sale prints a receipt with the order's figures and kicks the drawer wired to the receipt
printer; a refund prints a refund receipt (and opens the drawer to pay it out); closing the till
prints the Z report. Every figure on paper is read back from the simulator's decoded text and
compared with what the server answered.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import trio

from devices.sim import PrinterSimulator
from fynlo.db import Database
from tests.bridge.support import config_for, running, until
from tests.bridge.test_end_to_end import db_jobs, ports, pounds
from tests.payment_kit import Cashier
from tests.support import VenueKit, new_id

DRAWER = '[[drawers]]\nname = "main"\nprinter = "receipt"\npin = 2\n'


def has_row(text: str, left: str, right: str) -> bool:
    """Whether ``text`` has a line reading ``left`` then, after padding, ``right``."""
    return re.search(rf"^{re.escape(left)}\s+{re.escape(right)}$", text, re.MULTILINE) is not None


def printed(sim: PrinterSimulator, title: str) -> list[str]:
    return [job for job in sim.jobs if title in job.splitlines()]


async def all_reported(db: Database, venue_id: str) -> list[dict[str, Any]]:
    """The venue's jobs once the bridge has reported every one of them (printed or not)."""
    with trio.fail_after(10):
        while True:
            jobs = await db_jobs(db, venue_id)
            if all(j["status"] not in ("queued", "sent") for j in jobs):
                return jobs
            await trio.sleep(0.05)


async def test_cash_refund_and_z_report_print_and_kick_the_drawer(
        server: str, db: Database, venue: VenueKit, token: str, sims: dict[str, PrinterSimulator],
        tmp_path: Path) -> None:
    c, manager, receipt = Cashier(server, venue), Cashier(server, venue, "manager"), sims["receipt"]
    config = config_for(server, token, tmp_path / "spool", ports(sims), extra=DRAWER)
    async with running(config):
        till_id = await c.open_till(10000)
        await until(lambda: receipt.drawer_kicks == [2], what="the drawer opening for the float")
        order_id, total = await c.order_for("Scotch egg", "Pint of IPA", table="3")
        paid = (await c.cash(order_id, total, tendered=2000))["result"]
        number = paid["receipt_number"]
        await until(lambda: bool(printed(receipt, "RECEIPT")) and len(receipt.drawer_kicks) == 2,
                    what="the receipt and the drawer")
        await c.ok("order.complete", order_id=order_id)

        refund: dict[str, Any] = await c.ok(
            "payment.refund", order_id=order_id, payment_id=paid["payment_id"], refund_id=new_id(), amount=300,
            reason="cold chips", approval={"pin": venue.people["manager"].pin})
        await until(lambda: bool(printed(receipt, "REFUND")) and len(receipt.drawer_kicks) == 3,
                    what="the refund receipt and the drawer")

        closed = await manager.ok("till.close", till_id=till_id, counted=11000)
        await until(lambda: any(f"Z REPORT No. {closed['z_number']}" in job for job in receipt.jobs), what="the Z")
        jobs = await all_reported(db, venue.venue_id)

    order = paid["order"]
    assert (total, paid["change"], order["totals"]["total"]) == (1400, 600, 1400)
    [slip] = printed(receipt, "RECEIPT")
    assert f"Receipt No. {number}" in slip and f"Order {order['number']}" in slip and "Table 3" in slip
    assert f"TOTAL {pounds(total)}" in slip and "PAID" in slip.splitlines()
    assert has_row(slip, "Cash", pounds(total)) and has_row(slip, "  Tendered", "£20.00")
    assert has_row(slip, "  Change", "£6.00") and has_row(slip, "Paid", pounds(total))

    [refund_slip] = printed(receipt, "REFUND")
    assert f"original receipt {number}" in refund_slip and has_row(refund_slip, "Cash refund", "-£3.00")
    assert "Reason: cold chips" in refund_slip and refund["order"]["payment_status"] == "part_refunded"

    [z] = [job for job in receipt.jobs if "Z REPORT" in job]
    assert (closed["expected"], closed["counted"], closed["variance"]) == (11100, 11000, -100)
    assert has_row(z, "Expected", "£111.00") and has_row(z, "Counted", "£110.00")
    assert has_row(z, "Variance", "-£1.00") and has_row(z, "Cash (1)", pounds(total))
    assert has_row(z, "Float", "£100.00") and has_row(z, "Cash refunds (1)", "-£3.00")

    assert receipt.drawer_kicks == [2, 2, 2]                  # the float, the sale, the refund
    assert sum(job == "[DRAWER pin=2]" for job in receipt.jobs) == 3
    assert sims["kitchen"].drawer_kicks == sims["bar"].drawer_kicks == []
    money_jobs = [(j["kind"], j["device"], j["status"]) for j in jobs if j["station"] in ("main", "receipt")]
    assert sorted(money_jobs) == sorted([("drawer_kick", "receipt", "printed")] * 3 + [
        ("receipt", "receipt", "printed"), ("refund_receipt", "receipt", "printed"), ("report", "receipt", "printed")])
