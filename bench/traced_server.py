"""`fynlo serve` with its command path timed: the harness behind docs/performance.md.

    python -m sim.bench --server-command "python bench/traced_server.py" ...

Runs the real server (`fynlo.cli.main(["serve"])`) after wrapping, at run time and without
changing any file of `fynlo`, the few functions a command passes through:

* the socket (`_Session.handle`, `Outbox.pump`): from the command frame's arrival to the
  dispatcher (`socket_in`), and from the dispatcher's reply to its frame written to the socket
  (`socket_out`: the outbox queue, the encoding, hypercorn and wsproto);
* `Dispatcher.execute`: the whole command inside the server, from the parsed frame to the
  reply (`total`);
* `EntityActor._execute`: the command in its actor, summed over its turns (`actor`; the rest
  of `total`, `before_actor`, is the mailbox waits and, for a provider's command, its call);
* `Dispatcher._call`: a provider's call, outside the actor (`call`);
* `Database.run`: each transaction, split into the hop into a worker thread (the limiter, the
  thread, the pool), the work itself, and COMMIT plus the hop back to Trio;
* psycopg's `Cursor.execute`/`executemany` and `Transaction.__enter__`/`__exit__`: every
  statement, BEGIN and COMMIT, each one round trip to PostgreSQL.

The wrappers cost a few microseconds per call, so the figures are a little above an untraced
run. On exit (SIGTERM) it writes, per command name, the count and the p50/p99/mean of each
part to FYNLO_TRACE_OUT (default bench/results/trace.json).
"""

from __future__ import annotations

import atexit
import contextvars
import json
import os
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg

from fynlo.cli import main
from fynlo.commands.dispatch import Dispatcher
from fynlo.db.pool import Database
from fynlo.runtime.entity import EntityActor
from fynlo.web.outbox import Outbox
from fynlo.web.routes_ws import _Session

OUT = Path(os.environ.get("FYNLO_TRACE_OUT") or Path(__file__).resolve().parent / "results" / "trace.json")
PARTS = ("socket_in", "total", "socket_out", "before_actor", "actor", "call", "transactions", "hop_in", "work", "commit_and_hop_back",
         "statements", "statement_s", "begin_s", "commit_s")


class _Record:
    __slots__ = PARTS + ("name", "id", "t_work_end", "started", "arrived", "written")

    def __init__(self, name: str) -> None:
        self.name = name
        for part in PARTS:
            setattr(self, part, 0.0)
        self.id = ""
        self.t_work_end = 0.0
        self.started = time.perf_counter()
        self.arrived = self.written = 0.0  # perf_counter() at the frame's arrival and its reply's write


_writes = [0, 0]  # socket writes, and the frames they carried
_current: contextvars.ContextVar[_Record | None] = contextvars.ContextVar("trace", default=None)
_by_command: dict[str, _Record] = {}
_done: list[_Record] = []
_arrived: dict[str, float] = {}  # command id -> when its frame reached the session
_replying: dict[str, tuple[_Record, float]] = {}  # command id -> (record, when the dispatcher answered)
_COMMAND_ID = re.compile(r'"id"\s*:\s*"([0-9a-fA-F-]{36})"')
_REPLY_PREFIX = '{"type":"reply","id":"'


def _wrap_socket() -> None:
    handle = _Session.handle

    async def traced_handle(self: _Session, raw: Any, nursery: Any) -> None:
        found = _COMMAND_ID.search(raw if isinstance(raw, str) else raw.decode(errors="replace"))
        if found:
            _arrived[found.group(1)] = time.perf_counter()
        await handle(self, raw, nursery)

    pump = Outbox.pump

    class TimedWriter:
        """The socket's writer, counting writes and timing replies to their write."""

        def __init__(self, writer: Any) -> None:
            self.writer = writer

        @property
        def owing(self) -> bool:
            return bool(self.writer.owing)

        def send_now(self, frames: list[str]) -> bool:
            written = bool(self.writer.send_now(frames))
            if written:
                self._written(frames)
            return written

        async def send(self, frames: list[str]) -> None:
            await self.writer.send(frames)
            self._written(frames)

        @staticmethod
        def _written(frames: list[str]) -> None:
            _writes[0] += 1
            _writes[1] += len(frames)
            for frame in frames:
                if frame.startswith(_REPLY_PREFIX):
                    waiting = _replying.pop(frame[len(_REPLY_PREFIX):len(_REPLY_PREFIX) + 36], None)
                    if waiting is not None:
                        waiting[0].written = time.perf_counter()
                        waiting[0].socket_out = waiting[0].written - waiting[1]

    async def traced_pump(self: Outbox, writer: Any) -> None:
        await pump(self, TimedWriter(writer))

    _Session.handle = traced_handle  # type: ignore[method-assign]
    Outbox.pump = traced_pump  # type: ignore[method-assign]


def _wrap_dispatch() -> None:
    execute = Dispatcher.execute

    async def traced(self: Dispatcher, principal: Any, command: Any) -> dict[str, Any]:
        rec = _Record(command.name)
        rec.id = command.id
        _by_command[command.id] = rec
        token = _current.set(rec)
        t0 = time.perf_counter()
        arrived = _arrived.pop(command.id, None)
        rec.socket_in = t0 - arrived if arrived is not None else 0.0
        rec.arrived = arrived or 0.0
        try:
            return await execute(self, principal, command)
        finally:
            rec.total = time.perf_counter() - t0
            _replying[command.id] = (rec, t0 + rec.total)
            rec.before_actor = rec.total - rec.actor if rec.actor else 0.0
            _current.reset(token)
            _by_command.pop(command.id, None)
            _done.append(rec)

    Dispatcher.execute = traced  # type: ignore[method-assign]
    call = Dispatcher._call

    async def traced_call(self: Dispatcher, outside: Any) -> Any:
        rec, t0 = _current.get(), time.perf_counter()
        try:
            return await call(self, outside)
        finally:
            if rec is not None:
                rec.call += time.perf_counter() - t0

    Dispatcher._call = traced_call  # type: ignore[method-assign]


def _wrap_actor() -> None:
    run = EntityActor._execute

    async def traced(self: EntityActor, env: Any) -> Any:
        rec = _by_command.get(env.command.id)
        token = _current.set(rec)
        t0 = time.perf_counter()
        try:
            return await run(self, env)
        finally:
            if rec is not None:
                rec.actor += time.perf_counter() - t0
            _current.reset(token)

    EntityActor._execute = traced  # type: ignore[method-assign]


def _wrap_database() -> None:
    run = Database.run

    async def traced(self: Database, work: Any, **kwargs: Any) -> Any:
        rec = _current.get()
        if rec is None:
            return await run(self, work, **kwargs)
        t0 = time.perf_counter()

        def timed(conn: Any) -> Any:
            t_in = time.perf_counter()
            rec.hop_in += t_in - t0
            try:
                return work(conn)
            finally:
                rec.t_work_end = time.perf_counter()
                rec.work += rec.t_work_end - t_in

        result = await run(self, timed, **kwargs)
        rec.transactions += 1
        rec.commit_and_hop_back += time.perf_counter() - rec.t_work_end
        return result

    Database.run = traced  # type: ignore[method-assign]


def _wrap_psycopg() -> None:
    def count(method: Any, part: str) -> Any:
        def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
            rec = _current.get()
            t0 = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                if rec is not None:
                    setattr(rec, part, getattr(rec, part) + time.perf_counter() - t0)
                    if part == "statement_s":
                        rec.statements += 1
        return traced

    psycopg.Cursor.execute = count(psycopg.Cursor.execute, "statement_s")  # type: ignore[method-assign]
    psycopg.Cursor.executemany = count(psycopg.Cursor.executemany, "statement_s")  # type: ignore[method-assign]
    psycopg.Transaction.__enter__ = count(psycopg.Transaction.__enter__, "begin_s")  # type: ignore[method-assign]
    psycopg.Transaction.__exit__ = count(psycopg.Transaction.__exit__, "commit_s")  # type: ignore[method-assign]


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 100)) - 1))]


def _write() -> None:
    by_name: dict[str, list[_Record]] = defaultdict(list)
    for rec in _done:
        by_name[rec.name].append(rec)
    by_name["all"] = list(_done)
    summary: dict[str, Any] = {}
    for name, recs in sorted(by_name.items()):
        parts: dict[str, Any] = {"count": len(recs)}
        for part in PARTS:
            values = [getattr(r, part) for r in recs]
            scale = 1 if part in ("statements", "transactions") else 1000  # seconds -> ms
            parts[part] = {"mean": round(sum(values) / len(values) * scale, 3),
                           "p50": round(_percentile(values, 50) * scale, 3),
                           "p99": round(_percentile(values, 99) * scale, 3)}
        summary[name] = parts
    summary["socket_writes"] = {"writes": _writes[0], "frames": _writes[1],
                                "frames_per_write": round(_writes[1] / _writes[0], 2) if _writes[0] else None}
    if os.environ.get("FYNLO_TRACE_RECORDS"):  # every command's parts too, in ms from the first
        first = min((r.started for r in _done), default=0.0)
        summary["records"] = [{"name": r.name, "id": r.id, "at": round((r.started - first) * 1000, 3),
                               "arrived": r.arrived, "written": r.written,
                               **{p: round(getattr(r, p) * (1 if p in ("statements", "transactions") else 1000), 3)
                                  for p in PARTS}} for r in _done]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    _wrap_socket()
    _wrap_dispatch()
    _wrap_actor()
    _wrap_database()
    _wrap_psycopg()
    atexit.register(_write)
    raise SystemExit(main(["serve"]))
