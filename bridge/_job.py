"""A print job as the server sends it (`WireJob`) and as the spool holds it (`SpooledJob`)."""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["FINAL", "JobState", "SpooledJob", "WireJob", "job_from_row"]


class JobState(StrEnum):
    RECEIVED = "received"    # in the spool, waiting for its printer (the server is told "received")
    PRINTING = "printing"    # committed before the first byte leaves; found at start-up → UNKNOWN
    PRINTED = "printed"      # every byte was taken by the printer
    FAILED = "failed"        # never printed: no printer for it, a document we cannot lay out
    UNKNOWN = "unknown"      # may or may not be on paper: only ever reprinted as a marked COPY


FINAL = frozenset({JobState.PRINTED, JobState.FAILED, JobState.UNKNOWN})


@dataclass(frozen=True, slots=True)
class WireJob:
    """One entry of ``job.pending``'s ``jobs``, checked."""

    job_id: str
    kind: str
    station: str
    order_id: str | None
    copy: bool
    document: dict[str, Any]
    created_at: str

    @classmethod
    def from_wire(cls, raw: Any) -> WireJob:
        """Raises TypeError or ValueError naming what is malformed or missing."""
        if not isinstance(raw, dict):
            raise TypeError("a job must be an object")
        try:
            job_id = str(uuid.UUID(str(raw.get("job_id"))))
        except ValueError:
            raise ValueError(f"job_id {raw.get('job_id')!r} is not a UUID") from None
        kind, station, document = raw.get("kind"), raw.get("station"), raw.get("document")
        if not isinstance(kind, str) or not kind or not isinstance(station, str) or not station:
            raise ValueError(f"job {job_id} has no kind or station")
        if not isinstance(document, dict):
            raise TypeError(f"job {job_id} has no document object")
        order_id = raw.get("order_id")
        return cls(job_id, kind, station, str(order_id) if order_id else None, raw.get("copy") is True,
                   document, str(raw.get("created_at") or ""))

    def values(self) -> tuple[Any, ...]:
        """The columns ``Spool.add`` inserts, in its order."""
        return (self.job_id, self.kind, self.station, self.order_id, int(self.copy),
                json.dumps(self.document, ensure_ascii=False), self.created_at)


@dataclass(frozen=True, slots=True)
class SpooledJob:
    """A job in the spool, with where it stands."""

    position: int
    job_id: str
    kind: str
    station: str
    order_id: str | None
    copy: bool                # the server made it a COPY (a reprint or an automatic copy)
    document: dict[str, Any]
    created_at: str
    state: JobState
    as_copy: bool             # an earlier attempt of ours may be on paper
    device: str | None
    attempts: int
    detail: str
    reported: str | None

    @property
    def marked_copy(self) -> bool:
        """Whether it must come out marked COPY: it is a reprint, or it may be on paper already."""
        return self.copy or self.as_copy

    @property
    def report_status(self) -> str:
        """What the server should know: ``received`` until it is final (``printing`` is ours)."""
        return str(self.state) if self.state in FINAL else "received"


def job_from_row(row: sqlite3.Row) -> SpooledJob:
    return SpooledJob(
        position=row["position"], job_id=row["job_id"], kind=row["kind"], station=row["station"],
        order_id=row["order_id"], copy=bool(row["copy"]), document=json.loads(row["document"]),
        created_at=row["created_at"], state=JobState(row["state"]), as_copy=bool(row["as_copy"]),
        device=row["device"], attempts=row["attempts"], detail=row["detail"], reported=row["reported"])
