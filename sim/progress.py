"""Live counters of a load run, and the progress line that shows them on stderr.

On a terminal the line is redrawn in place about twice a second; into a file or a CI log a
redrawn line would become thousands of lines, so there it is printed once every 5 seconds.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

import trio

__all__ = ["Counters", "show_progress"]

TTY_INTERVAL_S = 0.5
LOG_INTERVAL_S = 5.0


@dataclass
class Counters:
    """Totals across all simulated terminals, updated as things happen."""

    sent: int = 0
    replies: int = 0
    errors: int = 0
    events: int = 0

    def line(self, elapsed: float) -> str:
        return (f"{elapsed:6.1f}s  sent {self.sent}  replies {self.replies}  "
                f"errors {self.errors}  events {self.events}")


async def show_progress(counters: Counters, started: float, stream: TextIO = sys.stderr) -> None:
    """Print `counters` until cancelled; `started` is the run's `time.perf_counter()` start.

    Cancellation: the normal way to stop it; on a TTY the line is finished with a newline.
    """
    tty = stream.isatty()
    try:
        while True:
            await trio.sleep(TTY_INTERVAL_S if tty else LOG_INTERVAL_S)
            text = counters.line(time.perf_counter() - started)
            stream.write(f"\r{text}\x1b[K" if tty else text + "\n")
            stream.flush()
    finally:
        if tty:
            stream.write("\n")
            stream.flush()
