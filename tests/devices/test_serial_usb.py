"""What only serial lines and USB do: missing devices, silent printers, stalls, unplugging."""

from __future__ import annotations

import pytest
import trio

from devices import (
    Cut,
    DeviceOffline,
    DeviceTimeout,
    Printer,
    SerialTransport,
    Text,
    UsbTransport,
)
from devices.sim import PrinterModel, SerialPrinterSimulator

from .fake_usb import PRODUCT, VENDOR, FakePrinterBackend


async def test_missing_serial_device_is_offline() -> None:
    with pytest.raises(DeviceOffline):
        await Printer(SerialTransport("/dev/does-not-exist"), 32).print([Text("x"), Cut()])


async def test_serial_url_nobody_listens_on_is_offline() -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # the port is now free and refuses connections
    with pytest.raises(DeviceOffline):
        await SerialTransport(f"socket://127.0.0.1:{port}").open()


async def test_serial_loopback_round_trip() -> None:
    transport = SerialTransport("loop://")
    await transport.open()
    try:
        await transport.send(b"ping")
        assert await transport.receive(16, 1.0) == b"ping"
        with pytest.raises(DeviceTimeout):
            await transport.receive(16, 0.15)
    finally:
        await transport.close()


async def test_switched_off_serial_printer_has_unknown_status(nursery: trio.Nursery) -> None:
    sim = SerialPrinterSimulator()
    path = await nursery.start(sim.serve)
    sim.offline = True

    status = await Printer(SerialTransport(path), 32, status_timeout=0.2).status()

    assert not status.known  # a serial line cannot tell "off" from "does not answer"


def usb_rig() -> tuple[PrinterModel, FakePrinterBackend, Printer]:
    model = PrinterModel()
    backend = FakePrinterBackend(model)
    transport = UsbTransport(VENDOR, PRODUCT, timeout=0.2, backend=backend)
    return model, backend, Printer(transport, 48, status_timeout=0.2)


async def test_unplugged_usb_printer_is_offline() -> None:
    _, backend, printer = usb_rig()
    backend.unplugged = True

    with pytest.raises(DeviceOffline) as caught:
        await printer.print([Text("x"), Cut()])
    assert caught.value.maybe_sent is False


async def test_stalled_usb_printer_times_out() -> None:
    _, backend, printer = usb_rig()
    await printer.status()  # it answers DLE EOT, so every job starts with a status query
    backend.stalled = True

    with pytest.raises(DeviceTimeout) as caught:
        await printer.print([Text("x"), Cut()])
    assert caught.value.maybe_sent is False  # the query stalled: none of the job went out
    assert not (await printer.status()).known


async def test_usb_printer_unplugged_mid_job_is_offline_and_maybe_sent() -> None:
    model, backend, printer = usb_rig()
    backend.vanish_after = 9 + 20  # the three status queries, then part of the job

    with pytest.raises(DeviceOffline) as caught:
        await printer.print([Text("x" * 40), Cut()])
    assert caught.value.maybe_sent is True
    assert model.jobs == []
