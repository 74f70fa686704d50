"""The server's side of the venue bridge: device tokens, jobs, outcomes, reprints, devices, scans."""

from __future__ import annotations

import httpx
import pytest

from fynlo.db import Database
from sim.client import TerminalClient
from sim.errors import HandshakeRefused
from tests.support import VenueKit, new_id, ref, with_menu
from tests.test_orders import Waiter


@pytest.fixture
async def venue(db: Database, kit: VenueKit) -> VenueKit:
    return await with_menu(db, kit)


async def register_bridge(server: str, kit: VenueKit) -> tuple[str, str]:
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.post("/api/v1/bridges", json={"name": "Back office bridge"},
                                   headers={"Authorization": f"Bearer {kit.token('manager')}"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["bridge_token"].startswith("fyb_")
    return body["bridge_id"], body["bridge_token"]


def bridge(server: str, token: str):  # type: ignore[no-untyped-def]
    return TerminalClient.connect(server, token, path="/ws/bridge")


async def _sent_order(server: str, venue: VenueKit) -> str:
    w = Waiter(server, venue)
    order_id = await w.open("1")
    await w.add(order_id, "Fish & chips")
    await w.add(order_id, "Pint of lager")
    await w.ok("order.send", order_id=order_id)
    return order_id


async def test_the_bridge_takes_jobs_and_reports_outcomes(server: str, db: Database, venue: VenueKit) -> None:
    _, token = await register_bridge(server, venue)
    order_id = await _sent_order(server, venue)
    async with bridge(server, token) as b, TerminalClient.connect(server, venue.token("staff")) as till:
        pending = (await b.command_ok("job.pending"))["jobs"]
        mine = [j for j in pending if j["order_id"] == order_id]
        assert sorted(j["station"] for j in mine) == ["bar", "kitchen"]
        kitchen = next(j for j in mine if j["station"] == "kitchen")
        assert kitchen["document"]["lines"][0]["name"] == "Fish & chips" and kitchen["copy"] is False
        await b.command_ok("job.report", {"job_id": kitchen["job_id"], "status": "received", "device": "kitchen-1"})
        printed = await b.command_ok("job.report", {"job_id": kitchen["job_id"], "status": "printed", "device": "kitchen-1"})
        assert printed["status"] == "printed"
        event = await till.next_event()
        assert event["name"] == "job.printed" and event["data"]["job_id"] == kitchen["job_id"]
        assert event["data"]["device"] == "kitchen-1" and event["data"]["order_id"] == order_id
        # delivered twice, reported twice: nothing changes
        again = await b.command_ok("job.report", {"job_id": kitchen["job_id"], "status": "printed", "device": "kitchen-1"})
        assert again["status"] == "printed"
        refused = await b.command("job.report", {"job_id": kitchen["job_id"], "status": "failed", "device": "x"})
        assert refused["error"]["details"]["reason"] == "job_final"
        left = [j["job_id"] for j in (await b.command_ok("job.pending"))["jobs"]]
        assert kitchen["job_id"] not in left


async def test_an_unknown_kitchen_ticket_comes_out_again_as_a_copy(server: str, venue: VenueKit) -> None:
    _, token = await register_bridge(server, venue)
    order_id = await _sent_order(server, venue)
    async with bridge(server, token) as b:
        kitchen = next(j for j in (await b.command_ok("job.pending"))["jobs"]
                       if j["order_id"] == order_id and j["station"] == "kitchen")
        unknown = await b.command_ok("job.report", {"job_id": kitchen["job_id"], "status": "unknown",
                                                    "device": "kitchen-1", "detail": "link dropped mid-job"})
        copy = next(j for j in (await b.command_ok("job.pending"))["jobs"] if j["job_id"] == unknown["copy_job_id"])
        assert copy["copy"] is True and copy["document"] == kitchen["document"]


async def test_a_reprint_is_always_a_marked_copy(server: str, venue: VenueKit) -> None:
    _, token = await register_bridge(server, venue)
    w = Waiter(server, venue)
    order_id = await w.open("2")
    await w.add(order_id, "Chips")
    bill = await w.ok("order.print_bill", order_id=order_id)
    reprint = await w.ok("job.reprint", job_id=bill["job_id"])
    async with bridge(server, token) as b:
        jobs = {j["job_id"]: j for j in (await b.command_ok("job.pending"))["jobs"]}
    assert jobs[bill["job_id"]]["copy"] is False
    assert jobs[reprint["job_id"]]["copy"] is True and jobs[reprint["job_id"]]["kind"] == "bill"
    assert (await w("job.reprint", job_id=new_id()))["error"]["code"] == "not_found"


async def test_device_status_and_scans_reach_the_terminals(server: str, db: Database, venue: VenueKit) -> None:
    _, token = await register_bridge(server, venue)
    chips = ref(venue, "item", "Chips")
    await db.run(lambda c: c.execute("UPDATE menu_items SET barcode = '5012345678900' WHERE id = %s", (chips,)))
    async with bridge(server, token) as b, TerminalClient.connect(server, venue.token("staff")) as till:
        await b.command_ok("device.report", {"device": "kitchen-1", "kind": "printer", "status": "paper_out"})
        await b.command_ok("device.report", {"device": "kitchen-1", "kind": "printer", "status": "paper_out"})
        await b.command_ok("device.report", {"device": "kitchen-1", "kind": "printer", "status": "online"})
        statuses = [(await till.next_event())["data"]["status"] for _ in range(2)]
        assert statuses == ["paper_out", "online"]  # the repeat said nothing
        scan = await b.command_ok("scan.report", {"device": "bar-scanner", "barcode": "5012345678900",
                                                  "terminal_id": venue.terminal_id})
        assert scan["item"]["item_id"] == chips and scan["error"] is None
        unknown = await b.command_ok("scan.report", {"device": "bar-scanner", "barcode": "0000"})
        assert unknown["item"] is None and unknown["error"] == "unknown_barcode"
        events = [await till.next_event() for _ in range(2)]
        assert [e["name"] for e in events] == ["scan", "scan"] and events[0]["data"]["terminal_id"] == venue.terminal_id
        listed = await Waiter(server, venue).ok("device.list")
        assert listed["devices"][0]["device"] == "kitchen-1" and listed["devices"][0]["status"] == "online"


async def test_bridges_and_terminals_keep_to_their_own_commands(server: str, venue: VenueKit) -> None:
    _, token = await register_bridge(server, venue)
    async with bridge(server, token) as b:
        assert (await b.command("order.open", {"order_id": new_id(), "kind": "takeaway"}))["error"]["code"] == "forbidden"
    staff = Waiter(server, venue)
    assert (await staff("job.pending"))["error"]["code"] == "forbidden"
    assert (await staff("device.report", device="x", kind="printer", status="online"))["error"]["code"] == "forbidden"


async def test_revoked_or_wrong_bridge_tokens_are_refused(server: str, venue: VenueKit) -> None:
    bridge_id, token = await register_bridge(server, venue)
    for bad in (venue.terminal_token, "fyb_nonsense"):
        with pytest.raises(HandshakeRefused):
            async with bridge(server, bad):
                pass
    async with bridge(server, token) as live:
        async with httpx.AsyncClient(base_url=server) as http:
            revoked = await http.post(f"/api/v1/bridges/{bridge_id}/revoke",
                                      headers={"Authorization": f"Bearer {venue.token('manager')}"})
        assert revoked.status_code == 200
        cut_off = await live.command("device.report", {"device": "p", "kind": "printer", "status": "online"})
        assert cut_off["error"]["code"] == "unauthenticated"
        assert (await live.command("job.pending"))["error"]["code"] == "unauthenticated"
    with pytest.raises(HandshakeRefused) as refused:
        async with bridge(server, token):
            pass
    assert refused.value.code == 1008


async def test_a_bridge_token_cannot_sign_in_staff(server: str, venue: VenueKit) -> None:
    _, token = await register_bridge(server, venue)
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.post("/api/v1/auth/pin", json={"terminal_token": token, "pin": venue.people["staff"].pin})
    assert response.status_code == 401
