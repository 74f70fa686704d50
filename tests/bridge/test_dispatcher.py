"""The dispatcher against fake printers at its seam: routing, retries, failover, drawers, status."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import trio

from bridge._job import JobState, WireJob
from bridge.config import parse_config
from bridge.dispatcher import Dispatcher
from bridge.reports import Reports
from bridge.spool import Spool
from devices import (
    DeviceError,
    DeviceOffline,
    DeviceTimeout,
    PaperOut,
    PrinterStatus,
    Row,
    Text,
)
from tests.bridge.support import FAST_TIMING, until

CONFIG = FAST_TIMING + """
[[printers]]
name = "kitchen"
stations = ["kitchen"]
transport = "tcp://kitchen.local"
backup = "spare"
status_poll = 0.1

[[printers]]
name = "bar"
stations = ["bar", "receipt"]
transport = "tcp://bar.local"
status_poll = 0.1

[[printers]]
name = "spare"
transport = "tcp://spare.local"
status_poll = 0.1

[[drawers]]
name = "till"
printer = "bar"
pin = 5
"""


class FakePrinter:
    """A printer at the ``PrinterPort`` seam: keeps what it printed as text, fails on demand."""

    def __init__(self) -> None:
        self.printed: list[str] = []
        self.kicks: list[int] = []
        self.faults: list[DeviceError] = []   # raised one per attempt, in order
        self.down = False                     # every attempt and status query: DeviceOffline
        self.hang = False
        self.attempts = 0
        self.status_answer = PrinterStatus(online=True, paper_out=False, cover_open=False, drawer_open=False)

    def _fail(self) -> None:
        if self.down:
            raise DeviceOffline("connection refused")
        if self.faults:
            raise self.faults.pop(0)

    async def print(self, doc: Sequence[Any]) -> None:
        self.attempts += 1
        await trio.sleep(0.001)
        self._fail()
        if self.hang:
            await trio.sleep_forever()
        self.printed.append("\n".join(b.text if isinstance(b, Text) else f"{b.left} {b.right}"
                                      for b in doc if isinstance(b, (Text, Row))))

    async def kick_drawer(self, pin: Literal[2, 5] = 2) -> None:
        self._fail()
        self.kicks.append(pin)

    async def status(self) -> PrinterStatus:
        if self.down:
            raise DeviceOffline("connection refused")
        return self.status_answer


@dataclass
class Rig:
    dispatcher: Dispatcher
    spool: Spool
    reports: Reports
    printers: dict[str, FakePrinter]

    async def send(self, kind: str, station: str, number: int = 1, **document: Any) -> str:
        job = WireJob.from_wire({"job_id": str(uuid.uuid4()), "kind": kind, "station": station, "copy": False,
                                 "document": {**ticket(number), **document}})
        await self.dispatcher.submit(await self.spool.add([job]))
        return job.job_id

    async def state(self, job_id: str) -> JobState:
        return (await self.spool.get(job_id)).state


def ticket(number: int) -> dict[str, Any]:
    return {"order_number": number, "station": "kitchen", "course": 1, "kind": "order", "table": "1",
            "lines": [{"quantity": 1, "name": "Chips"}]}


@asynccontextmanager
async def rig(tmp_path: Path, text: str = CONFIG) -> AsyncIterator[Rig]:
    config = parse_config(text)
    printers = {p.name: FakePrinter() for p in config.printers}
    reports = Reports()
    async with Spool.open(tmp_path / "spool") as spool, trio.open_nursery() as nursery:
        dispatcher = Dispatcher(config, spool, printers, reports)
        await nursery.start(dispatcher.run)
        yield Rig(dispatcher, spool, reports, printers)
        nursery.cancel_scope.cancel()


async def test_jobs_go_to_the_printer_of_their_station_and_the_unroutable_fail(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        kitchen = await r.send("kitchen_ticket", "kitchen", 1)
        bar = await r.send("kitchen_ticket", "bar", 2)
        nowhere = await r.send("kitchen_ticket", "pizza-oven", 3)
        await until(lambda: len(r.printers["kitchen"].printed) == 1 and len(r.printers["bar"].printed) == 1)
        assert "ORDER 1" in r.printers["kitchen"].printed[0] and "ORDER 2" in r.printers["bar"].printed[0]
        assert [await r.state(j) for j in (kitchen, bar, nowhere)] == [JobState.PRINTED, JobState.PRINTED,
                                                                        JobState.FAILED]
        assert "no printer serves station 'pizza-oven'" in (await r.spool.get(nowhere)).detail


async def test_a_dead_printer_holds_up_no_other_and_catches_up_in_order(tmp_path: Path) -> None:
    async with rig(tmp_path, CONFIG.replace('backup = "spare"', "")) as r:
        r.printers["kitchen"].down = True
        jobs = [await r.send("kitchen_ticket", "kitchen", n) for n in (1, 2, 3)]
        await r.send("kitchen_ticket", "bar", 9)
        await until(lambda: len(r.printers["bar"].printed) == 1, what="the bar")
        await until(lambda: r.reports.status_of("kitchen") == "offline", what="kitchen offline")
        await trio.sleep(0.3)
        assert r.printers["kitchen"].printed == [] and r.printers["spare"].printed == []
        r.printers["kitchen"].down = False
        await until(lambda: len(r.printers["kitchen"].printed) == 3, what="the kitchen catching up")
        assert [p.splitlines()[0] for p in r.printers["kitchen"].printed] == ["ORDER 1", "ORDER 2", "ORDER 3"]
        assert [(await r.spool.get(j)).state for j in jobs] == [JobState.PRINTED] * 3
        assert r.reports.status_of("kitchen") == "online"


async def test_an_attempt_that_may_be_on_paper_is_only_ever_reprinted_as_a_copy(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.printers["kitchen"].faults = [DeviceTimeout("stopped reading", maybe_sent=True)]
        job = await r.send("kitchen_ticket", "kitchen", 1)
        await until(lambda: len(r.printers["kitchen"].printed) == 1)
        assert r.printers["kitchen"].printed[0].startswith("COPY")
        done = await r.spool.get(job)
        assert done.state is JobState.PRINTED and done.attempts == 2 and "as a marked COPY" in done.detail


async def test_the_backup_takes_a_dead_printers_jobs_after_the_grace_marked_as_such(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.printers["kitchen"].faults = [DeviceOffline("reset mid-job", maybe_sent=True)]
        first = await r.send("kitchen_ticket", "kitchen", 1)
        await until(lambda: r.dispatcher.printers["kitchen"].jobs[0].as_copy, what="the first attempt")
        r.printers["kitchen"].down = True
        await r.send("kitchen_ticket", "kitchen", 2)
        kick = await r.send("drawer_kick", "till")            # not the backup's: its drawer is on the bar
        await until(lambda: len(r.printers["spare"].printed) == 2, timeout=5, what="the backup")
        spare = r.printers["spare"].printed
        assert spare[0].splitlines()[:3] == ["COPY", "(backup printer for kitchen)", "ORDER 1"]
        assert spare[1].splitlines()[:2] == ["(backup printer for kitchen)", "ORDER 2"]
        assert (await r.spool.get(first)).device == "spare" and r.printers["bar"].kicks == [5]
        assert await r.state(kick) is JobState.PRINTED


async def test_a_drawer_kick_that_fails_is_reported_at_once(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.printers["bar"].faults = [PaperOut("paper out")]
        kick = await r.send("drawer_kick", "receipt")
        await until(lambda: r.reports.status_of("bar") == "paper_out")
        assert await r.state(kick) is JobState.FAILED and r.printers["bar"].kicks == []


async def test_status_polls_report_paper_and_the_drawer(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await until(lambda: r.reports.status_of("bar") == "online" and r.reports.status_of("till") == "drawer_closed")
        r.printers["bar"].status_answer = PrinterStatus(online=False, paper_out=True, drawer_open=True)
        await until(lambda: r.reports.status_of("bar") == "paper_out" and r.reports.status_of("till") == "drawer_open")
        r.printers["bar"].status_answer = PrinterStatus()        # a printer that answers no DLE EOT
        await until(lambda: r.reports.status_of("bar") == "online")


async def test_a_job_delivered_twice_prints_once(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        job = WireJob.from_wire({"job_id": str(uuid.uuid4()), "kind": "kitchen_ticket", "station": "kitchen",
                                 "document": ticket(7)})
        await r.dispatcher.submit(await r.spool.add([job]))
        await r.dispatcher.submit(await r.spool.add([job]))
        await until(lambda: len(r.printers["kitchen"].printed) == 1)
        await trio.sleep(0.2)
        assert len(r.printers["kitchen"].printed) == 1


async def test_a_job_that_cannot_be_laid_out_fails_and_the_next_prints(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        broken = await r.send("kitchen_ticket", "kitchen", 1, lines=None)
        await r.send("kitchen_ticket", "kitchen", 2)
        await until(lambda: len(r.printers["kitchen"].printed) == 1)
        assert await r.state(broken) is JobState.FAILED and "cannot lay it out" in (await r.spool.get(broken)).detail


async def test_stopping_mid_job_gives_it_a_grace_then_marks_it_unknown(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        r.printers["kitchen"].hang = True
        job = await r.send("kitchen_ticket", "kitchen", 1)
        await until(lambda: r.printers["kitchen"].attempts == 1)
        await trio.sleep(0.01)
    async with Spool.open(tmp_path / "spool") as spool:
        stopped = await spool.get(job)
    assert stopped.state is JobState.UNKNOWN and "stopped while sending" in stopped.detail
