"""The spool: a job is taken once, and a crash mid-job leaves it unknown, never re-sent."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from bridge._job import JobState, WireJob
from bridge.errors import SpoolLocked
from bridge.spool import Spool


def wire(kind: str = "kitchen_ticket", station: str = "kitchen", **extra: Any) -> WireJob:
    return WireJob.from_wire({"job_id": str(uuid.uuid4()), "kind": kind, "station": station, "order_id": None,
                              "copy": False, "document": {"order_number": 1}, "created_at": "", **extra})


async def test_a_job_delivered_twice_is_taken_once(tmp_path: Path) -> None:
    job = wire()
    async with Spool.open(tmp_path / "spool") as spool:
        assert [j.job_id for j in await spool.add([job, job])] == [job.job_id]
        assert await spool.add([job]) == []
    async with Spool.open(tmp_path / "spool") as spool:        # and after a restart
        assert await spool.add([job]) == []
        assert [j.job_id for j in await spool.waiting()] == [job.job_id]


async def test_a_job_is_claimed_by_one_printer_only(tmp_path: Path) -> None:
    job = wire()
    async with Spool.open(tmp_path / "spool") as spool:
        await spool.add([job])
        claimed = await spool.claim(job.job_id, "kitchen")
        assert claimed is not None and claimed.state is JobState.PRINTING and claimed.attempts == 1
        assert await spool.claim(job.job_id, "kitchen-2") is None
        await spool.finish(job.job_id, JobState.PRINTED, device="kitchen")
        assert (await spool.get(job.job_id)).state is JobState.PRINTED
        assert await spool.claim(job.job_id, "kitchen") is None


async def test_a_job_left_printing_by_a_crash_is_unknown_and_reported_never_resent(tmp_path: Path) -> None:
    crashed, waiting = wire(), wire()
    async with Spool.open(tmp_path / "spool") as spool:
        await spool.add([crashed, waiting])
        await spool.claim(crashed.job_id, "kitchen")   # then the process dies: nothing more is written
    async with Spool.open(tmp_path / "spool") as spool:
        assert [j.job_id for j in spool.recovered] == [crashed.job_id]
        job = await spool.get(crashed.job_id)
        assert job.state is JobState.UNKNOWN and "may have printed" in job.detail
        assert [j.job_id for j in await spool.waiting()] == [waiting.job_id]
        assert await spool.claim(crashed.job_id, "kitchen") is None
        assert {j.job_id: j.report_status for j in await spool.unreported()} == {
            crashed.job_id: "unknown", waiting.job_id: "received"}


async def test_an_attempt_that_may_be_on_paper_only_comes_back_as_a_copy(tmp_path: Path) -> None:
    job = wire()
    async with Spool.open(tmp_path / "spool") as spool:
        await spool.add([job])
        await spool.claim(job.job_id, "kitchen")
        await spool.release(job.job_id, "kitchen: refused", maybe_sent=False)
        assert not (await spool.get(job.job_id)).marked_copy
        await spool.claim(job.job_id, "kitchen")
        await spool.release(job.job_id, "kitchen: reset mid-job", maybe_sent=True)
        await spool.claim(job.job_id, "kitchen")
        await spool.release(job.job_id, "kitchen: refused", maybe_sent=False)   # a COPY stays a COPY
        again = await spool.get(job.job_id)
        assert again.state is JobState.RECEIVED and again.marked_copy and again.attempts == 3


async def test_outcomes_stay_unreported_until_acknowledged(tmp_path: Path) -> None:
    job = wire()
    async with Spool.open(tmp_path / "spool") as spool:
        await spool.add([job])
        await spool.mark_reported(job.job_id, "received")
        assert await spool.unreported() == []
        await spool.claim(job.job_id, "kitchen")
        assert await spool.unreported() == []                 # printing is ours to know
        await spool.finish(job.job_id, JobState.PRINTED)
        assert [j.report_status for j in await spool.unreported()] == ["printed"]
        await spool.mark_reported(job.job_id, "printed")
        assert await spool.unreported() == []


async def test_last_seq_survives_a_restart_and_a_second_bridge_is_refused(tmp_path: Path) -> None:
    async with Spool.open(tmp_path / "spool") as spool:
        assert await spool.last_seq() is None
        await spool.save_last_seq(41)
        with pytest.raises(SpoolLocked):
            async with Spool.open(tmp_path / "spool"):
                pass
    async with Spool.open(tmp_path / "spool") as spool:
        assert await spool.last_seq() == 41


def test_malformed_jobs_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="not a UUID"):
        WireJob.from_wire({"job_id": "x", "kind": "bill", "station": "receipt", "document": {}})
    with pytest.raises(TypeError, match="no document"):
        WireJob.from_wire({"job_id": str(uuid.uuid4()), "kind": "bill", "station": "receipt"})
