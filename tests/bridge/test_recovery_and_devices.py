"""A bridge that died mid-job, device states and scans, all through a real server."""

from __future__ import annotations

from pathlib import Path

import trio

from bridge._job import WireJob
from bridge.spool import Spool
from devices.sim import PrinterSimulator, ScannerSimulator
from fynlo.db import Database
from sim.client import TerminalClient
from tests.bridge.support import config_for, running, until
from tests.bridge.test_end_to_end import db_jobs, numbers, ports, send_order
from tests.support import VenueKit, ref
from tests.test_orders import Waiter


async def test_a_bridge_that_died_mid_job_has_the_server_reprint_it_as_a_copy(
        server: str, db: Database, venue: VenueKit, token: str, sims: dict[str, PrinterSimulator],
        tmp_path: Path) -> None:
    """The process died (no clean stop): its spool still says ``printing`` for the job."""
    spool_path = tmp_path / "spool"
    number = await send_order(Waiter(server, venue), "5", "Fish & chips", "Pint of lager")
    async with TerminalClient.connect(server, token, path="/ws/bridge") as dead_bridge:
        pending = (await dead_bridge.command_ok("job.pending"))["jobs"]
    async with Spool.open(spool_path) as spool:
        await spool.add([WireJob.from_wire(j) for j in pending])
        kitchen = next(j["job_id"] for j in pending if j["station"] == "kitchen")
        await spool.claim(kitchen, "kitchen")        # …and then the power went
    async with running(config_for(server, token, spool_path, ports(sims))):
        await until(lambda: len(sims["kitchen"].jobs) == 1 and len(sims["bar"].jobs) == 1, what="copy and drinks")
        await trio.sleep(0.5)
    assert sims["kitchen"].jobs[0].startswith("COPY") and numbers(sims["kitchen"].jobs) == [number]
    assert "COPY" not in sims["bar"].jobs[0] and numbers(sims["bar"].jobs) == [number]
    jobs = {j["id"]: j for j in await db_jobs(db, venue.venue_id)}
    assert jobs[kitchen]["status"] == "unknown" and "bridge stopped" in jobs[kitchen]["detail"]
    copies = [j for j in jobs.values() if j["copy_of"] == kitchen]
    assert [(c["status"], c["device"]) for c in copies] == [("printed", "kitchen")]


async def test_device_states_and_scans_reach_the_terminals(
        server: str, db: Database, venue: VenueKit, token: str, sims: dict[str, PrinterSimulator],
        tmp_path: Path) -> None:
    chips = ref(venue, "item", "Chips")
    await db.run(lambda c: c.execute("UPDATE menu_items SET barcode = '5012345678900' WHERE id = %s", (chips,)))
    scanner = ScannerSimulator()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(scanner.serve, "127.0.0.1", 0)
        extra = (f'[[scanners]]\nname = "bar-scanner"\ntransport = "socket://127.0.0.1:{port}"\n'
                 f'terminal_id = "{venue.terminal_id}"\n')
        config = config_for(server, token, tmp_path / "spool", ports(sims), extra=extra)
        async with TerminalClient.connect(server, venue.token("staff")) as till, running(config) as bridge:
            await until(lambda: bridge.reports.status_of("bar-scanner") == "online", what="the scanner")
            await scanner.noise(b"\x00\x1b\xffgarbage\r\n")
            await scanner.scan("5012345678900")
            await scanner.scan("0000000")
            sims["receipt"].paper_out = True
            await until(lambda: len([e for e in till.events if e["name"] == "scan"]) == 2, what="two scans")
            await until(lambda: any(e["name"] == "device.status" and e["data"]["status"] == "paper_out"
                                    for e in till.events), what="paper out")
        nursery.cancel_scope.cancel()
    scans = [e["data"] for e in till.events if e["name"] == "scan"]
    assert scans[0]["item"]["item_id"] == chips and scans[0]["terminal_id"] == venue.terminal_id
    assert scans[1]["barcode"] == "0000000" and scans[1]["error"] == "unknown_barcode"
    states = {(e["data"]["device"], e["data"]["status"]) for e in till.events if e["name"] == "device.status"}
    assert {("bar-scanner", "online"), ("receipt", "paper_out"), ("kitchen", "online")} <= states
