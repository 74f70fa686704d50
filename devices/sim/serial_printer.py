"""A serial ESC/POS printer on a pseudo-terminal, around ``PrinterModel``.

A pseudo-terminal gives a real device path (``/dev/pts/N``), which is what serial printer
drivers expect (python-escpos's ``Serial`` cannot take a URL), and pyserial opens it through
the same termios code as a USB-serial adapter. The simulator owns the master side.

``offline`` here means switched off: bytes go nowhere and nothing answers, so a status
query times out. A serial line has no connection to refuse.
"""

from __future__ import annotations

import os
import tty
from collections.abc import Callable

import trio

from .model import PrinterModel

__all__ = ["SerialPrinterSimulator"]


class SerialPrinterSimulator(PrinterModel):
    """``await nursery.start(sim.serve)`` returns the device path to open."""

    def __init__(self, *, output_path: str | os.PathLike[str] | None = None,
                 on_job: Callable[[str], None] | None = None) -> None:
        super().__init__(output_path=output_path, on_job=on_job)
        self.offline = False
        self.path: str | None = None

    async def serve(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Create the pseudo-terminal and print what arrives on it until cancelled."""
        master, slave = os.openpty()
        try:
            # Raw, so nothing echoes or rewrites bytes before the driver configures the port;
            # keeping the slave open means the master never sees a hang-up between jobs.
            tty.setraw(slave)
            self.path = os.ttyname(slave)
            stream = trio.lowlevel.FdStream(master)
            master = -1  # the stream owns it now
            async with stream:
                task_status.started(self.path)
                while True:
                    data = await stream.receive_some(4096)
                    if not self.offline and (reply := self.receive(data)):
                        await stream.send_all(reply)
        finally:
            os.close(slave)
            if master >= 0:
                os.close(master)
