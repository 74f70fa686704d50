"""A probe of the disk beside the benchmark: how long a small write and its fdatasync take.

A commit waits for an fdatasync of PostgreSQL's WAL, so when the disk itself holds one for a
third of a second, every command in flight waits, and so do the commands that queue behind
them. On the development VM that happens about once a minute with nothing else running
(docs/performance.md, 2026-12-07): enough to set the p99 of a minute's commands, or of the
floor's, whatever the server does. The probe makes such a run say so.

It writes 4 kB and calls fdatasync every `interval` seconds, in a thread of its own, on a file
in `directory` (the benchmark passes its results directory: on a one-disk machine, the disk
PostgreSQL writes to). A probe that is late for the GIL adds a few milliseconds at most,
which is far below a stall.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

BLOCK = 4096


class DiskProbe:
    """Use as a context manager; `slowest_ms(start, end)` afterwards or meanwhile."""

    def __init__(self, directory: Path, interval: float = 0.1) -> None:
        self.directory = directory
        self.interval = interval
        self._samples: list[tuple[float, float]] = []  # (perf_counter at the write, seconds it took)
        self._failed_at: float | None = None  # when a write or fdatasync failed; the probe stopped then
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fd = -1
        self._path = ""

    def __enter__(self) -> DiskProbe:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._fd, self._path = tempfile.mkstemp(prefix="disk-probe-", dir=self.directory)
        os.write(self._fd, b"\0" * BLOCK)  # allocated now: the probe's writes change no metadata
        os.fsync(self._fd)
        self._thread = threading.Thread(target=self._run, name="disk-probe", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        os.close(self._fd)
        os.unlink(self._path)

    def _run(self) -> None:
        block = os.urandom(BLOCK)
        while not self._stop.wait(self.interval):
            started = time.perf_counter()
            try:
                os.pwrite(self._fd, block, 0)
                os.fdatasync(self._fd)
            except OSError:
                self._failed_at = started
                return
            self._samples.append((started, time.perf_counter() - started))

    def slowest_ms(self, start: float, end: float) -> float | None:
        """The longest write and fdatasync that overlapped [start, end) (`time.perf_counter()`
        seconds), in ms; None if none did, or if the probe failed before `end` (a window it did
        not watch to its end is not known to be free of stalls)."""
        if self._failed_at is not None and self._failed_at < end:
            return None
        durations = [took for at, took in list(self._samples) if at < end and at + took > start]
        return round(max(durations) * 1000, 1) if durations else None
