"""The bridge against a real server and simulated printers: tickets, bills, outages, restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from bridge.link import LinkState
from devices import Printer, TcpTransport
from devices.sim import PrinterSimulator
from fynlo.db import Database
from sim.client import TerminalClient
from tests.bridge.support import FaultyTransport, config_for, running, until
from tests.support import VenueKit
from tests.test_orders import Waiter
from tests.test_printing import register_bridge

PRINTERS = ("kitchen", "bar", "receipt")


def ports(sims: dict[str, PrinterSimulator], names: tuple[str, ...] = PRINTERS) -> dict[str, int]:
    return {name: sims[name].port or 0 for name in names}


def pounds(minor: int) -> str:
    return f"£{minor // 100}.{minor % 100:02d}"


async def send_order(w: Waiter, table: str, *items: str) -> int:
    order_id = await w.open(table)
    for item in items:
        await w.add(order_id, item)
    return int((await w.ok("order.send", order_id=order_id))["number"])


async def db_jobs(db: Database, venue_id: str) -> list[dict[str, Any]]:
    rows = await db.run(lambda c: c.execute(
        "SELECT id::text, kind, station, status, copy, device, copy_of::text, detail FROM print_jobs"
        " WHERE venue_id = %s ORDER BY created_at, id", (venue_id,)).fetchall())
    return [dict(r) for r in rows]


def numbers(jobs: list[str]) -> list[int]:
    """The order numbers on printed tickets, in the order they came out."""
    return [int(line.split()[1]) for job in jobs for line in job.splitlines() if line.startswith("ORDER ")]


async def test_food_goes_to_the_kitchen_and_drinks_to_the_bar(
        server: str, db: Database, venue: VenueKit, token: str, sims: dict[str, PrinterSimulator],
        tmp_path: Path) -> None:
    async with running(config_for(server, token, tmp_path / "spool", ports(sims))):
        number = await send_order(Waiter(server, venue), "1", "Fish & chips", "Pint of lager")
        await until(lambda: bool(sims["kitchen"].jobs and sims["bar"].jobs), what="both tickets")
    kitchen, bar = sims["kitchen"].jobs, sims["bar"].jobs
    assert len(kitchen) == 1 and len(bar) == 1
    assert f"ORDER {number}" in kitchen[0] and "1 x Fish & chips" in kitchen[0]
    assert "ALLERGENS: FISH, GLUTEN" in kitchen[0]
    assert "1 x Pint of lager" in bar[0] and "Fish" not in bar[0] and "lager" not in kitchen[0]
    assert "COPY" not in kitchen[0] + bar[0]


async def test_a_bill_prints_with_the_totals_of_the_order(
        server: str, venue: VenueKit, token: str, sims: dict[str, PrinterSimulator], tmp_path: Path) -> None:
    w = Waiter(server, venue)
    order_id = await w.open("2")
    await w.add(order_id, "8oz sirloin steak", ("Cooking", "Medium rare"), ("Sauce", "Peppercorn"))
    await w.add(order_id, "Chips")
    await w.add(order_id, "Pint of lager")
    order = (await w.ok("order.print_bill", order_id=order_id))["order"]
    async with running(config_for(server, token, tmp_path / "spool", ports(sims))):
        await until(lambda: bool(sims["receipt"].jobs), what="the bill")
    bill, totals = sims["receipt"].jobs[0], order["totals"]
    assert "Test Venue" in bill and f"Order {order['number']}" in bill and "Table 2" in bill
    assert f"TOTAL {pounds(totals['total'])}" in bill
    for band in totals["vat"]:
        assert f"VAT {band['rate']}% of {pounds(band['gross'])}" in bill and pounds(band["vat"]) in bill
    for line in order["lines"]:
        assert f"{line['quantity']} x {line['name']}" in bill and pounds(line["gross"]) in bill
    assert "+£2.50" in bill and f"[QR {order_id}]" in bill


async def test_a_kitchen_printer_offline_mid_service_prints_everything_once_in_order_when_back(
        server: str, db: Database, venue: VenueKit, token: str, sims: dict[str, PrinterSimulator],
        tmp_path: Path) -> None:
    w, kitchen = Waiter(server, venue), sims["kitchen"]
    async with TerminalClient.connect(server, venue.token("staff")) as till, \
            running(config_for(server, token, tmp_path / "spool", ports(sims))) as bridge:
        first = await send_order(w, "1", "Fish & chips")
        await until(lambda: len(kitchen.jobs) == 1, what="the first ticket")
        kitchen.offline = True
        later = [await send_order(w, str(table), "Scotch egg", "Pint of lager") for table in (2, 3, 4)]
        await until(lambda: len(sims["bar"].jobs) == 3, what="the bar carrying on")
        await until(lambda: bridge.reports.status_of("kitchen") == "offline", what="kitchen offline")
        assert len(kitchen.jobs) == 1
        kitchen.offline = False
        await until(lambda: len(kitchen.jobs) == 4, what="the kitchen catching up")
        await until(lambda: bridge.reports.status_of("kitchen") == "online", what="kitchen online")
        await trio.sleep(0.3)
        statuses = [e["data"]["status"] for e in till.events
                    if e["name"] == "device.status" and e["data"]["device"] == "kitchen"]
    assert numbers(kitchen.jobs) == [first, *later] and "COPY" not in "".join(kitchen.jobs)
    assert statuses[-2:] == ["offline", "online"]
    assert {j["status"] for j in await db_jobs(db, venue.venue_id)} == {"printed"}


async def test_with_a_backup_the_jobs_go_there_marked_and_the_one_cut_off_as_a_copy(
        server: str, db: Database, venue: VenueKit, token: str, sims: dict[str, PrinterSimulator],
        tmp_path: Path) -> None:
    names = ("kitchen", "bar", "receipt", "kitchen-2")
    config = config_for(server, token, tmp_path / "spool", ports(sims, names), backup={"kitchen": "kitchen-2"})
    dying = FaultyTransport(TcpTransport("127.0.0.1", sims["kitchen"].port or 0), sims["kitchen"], after=60, hang=False)
    w, backup = Waiter(server, venue), sims["kitchen-2"]
    async with running(config, printers={"kitchen": Printer(dying, 48)}):
        cut_off = await send_order(w, "1", "Fish & chips")
        await until(lambda: sims["kitchen"].offline, what="the kitchen printer dying mid-job")
        later = [await send_order(w, str(table), "Scotch egg") for table in (2, 3)]
        await until(lambda: len(backup.jobs) == 3, what="the backup printing the kitchen's jobs")
        sims["kitchen"].offline = False
        await trio.sleep(0.5)
    assert sims["kitchen"].jobs == [] and numbers(backup.jobs) == [cut_off, *later]
    assert all("(backup printer for kitchen)" in job for job in backup.jobs)
    assert backup.jobs[0].startswith("COPY") and not any("COPY" in job for job in backup.jobs[1:])
    jobs = [j for j in await db_jobs(db, venue.venue_id) if j["station"] == "kitchen"]
    assert [(j["status"], j["device"], j["copy"]) for j in jobs] == [("printed", "kitchen-2", False)] * 3
    assert "COPY" in jobs[0]["detail"]


async def test_a_bridge_killed_between_jobs_loses_and_repeats_nothing(
        server: str, venue: VenueKit, token: str, sims: dict[str, PrinterSimulator], tmp_path: Path) -> None:
    config = config_for(server, token, tmp_path / "spool", ports(sims))
    w, kitchen, bar = Waiter(server, venue), sims["kitchen"], sims["bar"]
    async with running(config):
        first = await send_order(w, "1", "Fish & chips", "Pint of lager")
        await until(lambda: len(kitchen.jobs) == 1 and len(bar.jobs) == 1, what="the first order")
        kitchen.offline = True
        spooled = await send_order(w, "2", "Scotch egg", "Pint of lager")   # kitchen's waits in the spool
        await until(lambda: len(bar.jobs) == 2, what="the second order's drinks")
    while_down = await send_order(w, "3", "Chips", "Pint of lager")          # the bridge is dead
    kitchen.offline = False
    async with running(config):        # job.pending hands back the spooled job: printed once
        await until(lambda: len(kitchen.jobs) == 3 and len(bar.jobs) == 3, what="the rest")
        await trio.sleep(0.5)
    assert numbers(kitchen.jobs) == [first, spooled, while_down] and numbers(bar.jobs) == [first, spooled, while_down]


async def test_a_bridge_killed_mid_job_reprints_that_job_as_a_copy_and_nothing_else(
        server: str, db: Database, venue: VenueKit, token: str, sims: dict[str, PrinterSimulator],
        tmp_path: Path) -> None:
    config = config_for(server, token, tmp_path / "spool", ports(sims))
    w, kitchen, bar = Waiter(server, venue), sims["kitchen"], sims["bar"]
    wedged = FaultyTransport(TcpTransport("127.0.0.1", kitchen.port or 0), kitchen, after=40, hang=True)
    async with running(config, printers={"kitchen": Printer(wedged, 48)}):
        cut = await send_order(w, "1", "Fish & chips", "Pint of lager")
        await until(lambda: not wedged.armed and len(bar.jobs) == 1, what="the kitchen ticket half sent")
        await trio.sleep(0.1)
    kitchen.power_cycle()              # someone switches the wedged printer off and on
    async with running(config):
        await until(lambda: len(kitchen.jobs) == 1, what="the copy")
        after = await send_order(w, "2", "Chips")
        await until(lambda: len(kitchen.jobs) == 2, what="the next ticket")
        await trio.sleep(0.5)
    assert kitchen.jobs[0].startswith("COPY") and numbers(kitchen.jobs) == [cut, after]
    assert "COPY" not in kitchen.jobs[1] and numbers(bar.jobs) == [cut]
    jobs = [j for j in await db_jobs(db, venue.venue_id) if j["station"] == "kitchen"]
    assert [(j["status"], j["copy"]) for j in jobs] == [("unknown", False), ("printed", True), ("printed", False)]
    assert jobs[1]["copy_of"] == jobs[0]["id"] and "stopped" in jobs[0]["detail"]


async def revoke(server: str, venue: VenueKit, bridge_id: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.post(f"/api/v1/bridges/{bridge_id}/revoke",
                                   headers={"Authorization": f"Bearer {venue.token('manager')}"})
    assert response.status_code == 200


async def test_a_revoked_token_stops_the_bridge_with_a_clear_status(
        server: str, venue: VenueKit, sims: dict[str, PrinterSimulator], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    bridge_id, token = await register_bridge(server, venue)
    await revoke(server, venue, bridge_id)
    async with running(config_for(server, token, tmp_path / "spool", ports(sims))) as bridge:
        link = bridge.link
        assert link is not None
        await until(lambda: link.status.state is LinkState.REFUSED, what="the refusal")
        await trio.sleep(1.2)
    assert "unauthenticated" in link.status.detail
    refusals = [r for r in caplog.records if "refused this bridge's token" in r.getMessage()]
    assert "Pair the bridge again" in refusals[0].getMessage()
    assert len(refusals) <= 3      # at the slowest pace (0.5 s here), not every few milliseconds


async def test_a_bridge_revoked_while_connected_stops_at_its_next_command(
        server: str, venue: VenueKit, sims: dict[str, PrinterSimulator], tmp_path: Path) -> None:
    bridge_id, token = await register_bridge(server, venue)
    async with running(config_for(server, token, tmp_path / "spool", ports(sims))) as bridge:
        link = bridge.link
        assert link is not None
        await until(lambda: link.status.state is LinkState.ONLINE, what="the link")
        await revoke(server, venue, bridge_id)
        await send_order(Waiter(server, venue), "1", "Chips")     # job.queued → job.pending → refused
        await until(lambda: link.status.state is LinkState.REFUSED, what="the refusal")
    assert sims["kitchen"].jobs == []
