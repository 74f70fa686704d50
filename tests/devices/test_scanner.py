"""The scanner driver against the serial scanner simulator, over pyserial's socket://."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from devices import DeviceOffline, Scanner, SerialTransport
from devices.sim import ScannerSimulator


@pytest.fixture
async def scanner_sim(nursery: trio.Nursery) -> ScannerSimulator:
    sim = ScannerSimulator()
    await nursery.start(sim.serve)
    return sim


Codes = trio.MemoryReceiveChannel[str]
Scanned = tuple[Scanner, Codes]


@pytest.fixture
async def scanned(scanner_sim: ScannerSimulator,
                  nursery: trio.Nursery) -> AsyncIterator[Scanned]:
    """A scanner driver reading in the background; its codes arrive on the channel."""
    scanner = Scanner(SerialTransport(f"socket://127.0.0.1:{scanner_sim.port}"), max_length=32)
    send, receive = trio.open_memory_channel[str](100)

    async def read(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with scanner:
            task_status.started()  # connected: pyserial flushes input while it opens
            async for code in scanner:
                await send.send(code)

    await nursery.start(read)
    yield scanner, receive


async def next_code(codes: Codes) -> str:
    with trio.fail_after(2):
        return await codes.receive()


async def test_scans_arrive_in_order(scanner_sim: ScannerSimulator, scanned: Scanned) -> None:
    _, codes = scanned
    for code in ("4006381333931", "5012345678900", "ABC-123"):  # the last one is unknown
        await scanner_sim.scan(code)

    assert [await next_code(codes) for _ in range(3)] == ["4006381333931", "5012345678900",
                                                          "ABC-123"]


async def test_noise_is_dropped_and_counted(scanner_sim: ScannerSimulator,
                                            scanned: Scanned) -> None:
    scanner, codes = scanned
    await scanner_sim.noise(b"\x00\xff\x1b[2J\r\n")  # non-printable bytes
    await scanner_sim.noise(b"\r\n")  # an empty line
    await scanner_sim.noise(b"Z" * 500 + b"\r\n")  # over-long garbage
    await scanner_sim.scan("4006381333931")

    assert await next_code(codes) == "4006381333931"
    assert scanner.dropped == 3


async def test_codes_split_across_reads_and_other_terminators(scanner_sim: ScannerSimulator,
                                                             scanned: Scanned) -> None:
    _, codes = scanned
    await scanner_sim.noise(b"40063")
    await trio.sleep(0.05)
    await scanner_sim.noise(b"81333931\r")
    await scanner_sim.noise(b"  96385074  \n")

    assert await next_code(codes) == "4006381333931"
    assert await next_code(codes) == "96385074"


async def test_a_scanner_link_that_drops_is_offline() -> None:
    sim = ScannerSimulator()
    async with trio.open_nursery() as sim_nursery:
        port = await sim_nursery.start(sim.serve)
        scanner = Scanner(SerialTransport(f"socket://127.0.0.1:{port}"))
        await scanner.__aenter__()
        sim_nursery.cancel_scope.cancel()  # the scanner's adapter goes away

    with pytest.raises(DeviceOffline):
        with trio.fail_after(2):
            await scanner.__anext__()
