"""What only a network printer can do to us: refuse, hang, vanish."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.lowlevel

from devices import (
    Cut,
    DeviceError,
    DeviceOffline,
    DeviceTimeout,
    Printer,
    Row,
    TcpTransport,
    Text,
)
from devices.sim import PrinterSimulator

# Far more than the simulator's 4 KiB receive buffer plus what the kernel queues for us,
# so a printer that stops reading makes the send wait.
LONG_TICKET = [Row(f"{n} x Side salad, no dressing", "£4.50") for n in range(1500)] + [Cut()]


def printer_for(sim: PrinterSimulator, *, write_timeout: float = 2.0) -> Printer:
    assert sim.port is not None
    return Printer(TcpTransport("127.0.0.1", sim.port, connect_timeout=1,
                                write_timeout=write_timeout), 48, status_timeout=0.2)


async def test_offline_printer_fails_fast_and_prints_when_back(tcp_sim: PrinterSimulator) -> None:
    printer = printer_for(tcp_sim)
    tcp_sim.offline = True
    await trio.lowlevel.checkpoint()  # let the simulator close its listener

    start = trio.current_time()
    with pytest.raises(DeviceOffline) as caught:
        await printer.print([Text("Table 4"), Cut()])
    assert caught.value.maybe_sent is False
    with pytest.raises(DeviceOffline):
        await printer.status()
    assert trio.current_time() - start < 0.5

    tcp_sim.offline = False
    await trio.sleep(0.05)
    await printer.print([Text("Table 4"), Cut()])
    assert tcp_sim.jobs == ["Table 4"]


async def test_hanging_printer_times_out_within_the_write_timeout(
        tcp_sim: PrinterSimulator) -> None:
    tcp_sim.hang = True
    printer = printer_for(tcp_sim, write_timeout=0.5)

    start = trio.current_time()
    with pytest.raises(DeviceTimeout) as caught:
        await printer.print(LONG_TICKET)
    # one status timeout (it never answers DLE EOT either), then the write timeout
    assert trio.current_time() - start < 0.2 + 0.5 + 0.3
    assert caught.value.maybe_sent is True

    start = trio.current_time()
    status = await printer.status()
    assert not status.known and trio.current_time() - start < 0.5


async def test_printer_vanishing_mid_job_is_an_error_not_a_hang(tcp_sim: PrinterSimulator) -> None:
    tcp_sim.vanish_after = 2000
    printer = printer_for(tcp_sim)

    with trio.fail_after(3):
        with pytest.raises(DeviceError) as caught:
            await printer.print(LONG_TICKET)
    assert caught.value.maybe_sent is True
    assert tcp_sim.offline and tcp_sim.jobs == []


async def test_unreachable_host_is_offline_within_the_connect_timeout() -> None:
    printer = Printer(TcpTransport("192.0.2.1", 9100, connect_timeout=0.3), 48)  # TEST-NET-1

    start = trio.current_time()
    with pytest.raises(DeviceOffline):
        await printer.print([Text("x"), Cut()])
    assert trio.current_time() - start < 1.0


async def test_jobs_are_appended_to_the_output_file(tmp_path: Path, nursery: trio.Nursery) -> None:
    out = tmp_path / "printers" / "kitchen.txt"
    sim = PrinterSimulator(output_path=out)
    await nursery.start(sim.serve)
    printer = printer_for(sim)

    await printer.print([Text("ORDER 7", bold=True), Text("1 x Soup"), Cut()])
    await printer.kick_drawer(2)

    assert out.read_text(encoding="utf-8") == (
        "ORDER 7\n1 x Soup\n--- cut ---\n[DRAWER pin=2]\n--- cut ---\n")
