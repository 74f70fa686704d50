"""The link and the courier against a scripted server: reconnects, replays, reports re-sent."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketRequest, serve_websocket

from bridge._config_model import Timing
from bridge._job import SpooledJob
from bridge.courier import Courier
from bridge.link import LinkState
from fynlo.wire import ws_url
from bridge.reports import DeviceReport, Reports
from bridge.spool import Spool
from tests.bridge.support import until

TIMING = Timing(reconnect_min=0.02, reconnect_max=0.2)
JOB = {"job_id": str(uuid.uuid4()), "kind": "bill", "station": "receipt", "order_id": None, "copy": False,
       "document": {"venue": {"name": "x"}}, "created_at": "2026-11-22T19:00:00+00:00", "status": "queued"}


class ScriptedServer:
    """Speaks /ws/bridge's frames, with faults: drop the first connections, drop on a report."""

    def __init__(self) -> None:
        self.hellos: list[dict[str, Any]] = []
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.drop_first = 0              # connections to close right after the welcome
        self.drop_on_report = 0          # job.reports to swallow by closing the socket
        self.refuse = False
        self.events: list[dict[str, Any]] = []    # sent after each welcome
        self.seq = 3

    async def handle(self, request: WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            self.hellos.append(json.loads(await ws.get_message()))
            if self.refuse:
                await ws.aclose(1008, "unauthenticated: unknown or revoked bridge token")
                return
            await ws.send_message(json.dumps({"type": "welcome", "venue_id": "v", "seq": self.seq}))
            for event in self.events:
                await ws.send_message(json.dumps({"type": "event", **event}))
            if self.drop_first:
                self.drop_first -= 1
                await ws.aclose()
                return
            while True:
                frame = json.loads(await ws.get_message())
                self.commands.append((frame["name"], frame["args"]))
                if frame["name"] == "job.report" and self.drop_on_report:
                    self.drop_on_report -= 1
                    await ws.aclose()
                    return
                result: Any = {"jobs": [JOB]} if frame["name"] == "job.pending" else {}
                await ws.send_message(json.dumps({"type": "reply", "id": frame["id"], "ok": True, "result": result}))
        except ConnectionClosed:
            pass

    def reported(self, name: str) -> list[dict[str, Any]]:
        return [args for command, args in self.commands if command == name]


@asynccontextmanager
async def courier(tmp_path: Path, server: ScriptedServer) -> AsyncIterator[tuple[Courier, list[SpooledJob]]]:
    accepted: list[SpooledJob] = []

    async def accept(jobs: list[SpooledJob]) -> None:
        accepted.extend(jobs)

    async with Spool.open(tmp_path / "spool") as spool, trio.open_nursery() as nursery:
        listening = await nursery.start(serve_websocket, server.handle, "127.0.0.1", 0, None)
        c = Courier(f"http://127.0.0.1:{listening.port}", "fyb_test", spool, TIMING, Reports(), accept)
        await nursery.start(c.run)
        yield c, accepted
        nursery.cancel_scope.cancel()


def test_the_socket_url_follows_the_server_url() -> None:
    assert ws_url("https://pos.example.com/", "/ws/bridge") == "wss://pos.example.com/ws/bridge"
    assert ws_url("http://10.0.0.2:8000/fynlo", "/ws/bridge") == "ws://10.0.0.2:8000/fynlo/ws/bridge"


async def test_it_dials_again_and_pulls_its_jobs_on_every_connection(tmp_path: Path) -> None:
    server = ScriptedServer()
    server.drop_first = 2
    server.events = [{"seq": 4, "name": "job.queued", "data": {}}, {"seq": 5, "name": "order.updated", "data": {}}]
    async with courier(tmp_path, server) as (c, accepted):
        await until(lambda: c.link.status.state is LinkState.ONLINE and len(server.hellos) == 3)
        await until(lambda: [j.job_id for j in accepted] == [JOB["job_id"]] and bool(server.reported("job.report")))
    assert [h["last_seq"] for h in server.hellos] == [None, 5, 5]     # resumes after what it saw
    assert server.hellos[0]["token"] == "fyb_test"
    assert server.reported("job.report")[0] == {"job_id": JOB["job_id"], "status": "received", "device": "receipt",
                                                "detail": ""}


async def test_a_report_lost_with_the_link_is_sent_again_until_acknowledged(tmp_path: Path) -> None:
    server = ScriptedServer()
    server.drop_on_report = 1
    async with courier(tmp_path, server) as (c, _):
        c.reports.device(DeviceReport("kitchen", "printer", "paper_out"))
        await until(lambda: len(server.reported("job.report")) == 2, what="the report, again")
        await until(lambda: any(r["status"] == "paper_out" for r in server.reported("device.report")))
        with trio.fail_after(5):   # the server has it; the bridge marks it once the reply comes back
            while await c.spool.unreported():
                await trio.sleep(0.02)
    assert len(server.hellos) == 2


async def test_a_refused_token_is_said_plainly_and_retried_slowly(tmp_path: Path) -> None:
    server = ScriptedServer()
    server.refuse = True
    async with courier(tmp_path, server) as (c, _):
        await until(lambda: c.link.status.state is LinkState.REFUSED)
        await trio.sleep(0.5)
    assert "revoked" in c.link.status.detail and 2 <= len(server.hellos) <= 4   # every 0.2 s at most
