"""One printer "rig" per wire: the real driver on one end, its simulator on the other.

The contract tests take ``rig`` and so run once over TCP (``PrinterSimulator``), once over a
pseudo-terminal (``SerialPrinterSimulator``) and once over pyusb (``FakePrinterBackend``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
import trio

from devices import Printer, SerialTransport, TcpTransport, Transport, UsbTransport
from devices.sim import PrinterModel, PrinterSimulator, SerialPrinterSimulator

from .fake_usb import PRODUCT, VENDOR, FakePrinterBackend

STATUS_TIMEOUT = 0.3


@dataclass
class Rig:
    wire: str
    sim: PrinterModel
    transport: Callable[[], Transport]

    def printer(self, width: int = 48) -> Printer:
        return Printer(self.transport(), width, status_timeout=STATUS_TIMEOUT)

    async def jobs(self, n: int) -> list[str]:
        """The simulator's jobs once `n` have come out (a pty is read a moment after the write
        returns), or as they stand after 2 s."""
        with trio.move_on_after(2):
            while len(self.sim.jobs) < n:
                await trio.sleep(0.01)
        return self.sim.jobs


@pytest.fixture(params=["tcp", "serial", "usb"])
async def rig(request: pytest.FixtureRequest, nursery: trio.Nursery) -> AsyncIterator[Rig]:
    if request.param == "tcp":
        tcp_sim = PrinterSimulator()
        port = await nursery.start(tcp_sim.serve)
        yield Rig("tcp", tcp_sim, lambda: TcpTransport("127.0.0.1", port, connect_timeout=1,
                                                       write_timeout=2))
    elif request.param == "serial":
        serial_sim = SerialPrinterSimulator()
        path = await nursery.start(serial_sim.serve)
        yield Rig("serial", serial_sim, lambda: SerialTransport(path, 115200, write_timeout=2))
    else:
        model = PrinterModel()
        backend = FakePrinterBackend(model)
        yield Rig("usb", model, lambda: UsbTransport(VENDOR, PRODUCT, timeout=2, backend=backend))


@pytest.fixture
async def tcp_sim(nursery: trio.Nursery) -> PrinterSimulator:
    sim = PrinterSimulator()
    await nursery.start(sim.serve)
    return sim
