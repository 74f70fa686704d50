"""The keyboard-wedge scanner driver over pyusb, against the fake HID backend."""

from __future__ import annotations

import pytest
import trio

from devices import DeviceOffline, HidScanner, UsbTransport

from .fake_usb import HID_IN_EP, HID_PRODUCT, HID_VENDOR, FakeHidScannerBackend

UP = bytes(8)
ENTER, A, ONE, ZERO, MINUS, F1 = 0x28, 0x04, 0x1E, 0x27, 0x2D, 0x3A


def key(usage: int, *, shift: bool = False) -> bytes:
    """The report of one key held down (left shift with it when ``shift``)."""
    return bytes([0x02 if shift else 0, 0, usage, 0, 0, 0, 0, 0])


def typed(*usages: int) -> list[bytes]:
    """Each key pressed and released, as a scanner types it."""
    return [report for usage in usages for report in (key(usage), UP)]


@pytest.fixture
def backend() -> FakeHidScannerBackend:
    return FakeHidScannerBackend()


def scanner(backend: FakeHidScannerBackend, max_length: int = 128) -> HidScanner:
    return HidScanner(UsbTransport(HID_VENDOR, HID_PRODUCT, in_ep=HID_IN_EP, backend=backend),
                      max_length=max_length)


async def codes(backend: FakeHidScannerBackend, n: int, max_length: int = 128) -> list[str]:
    async with scanner(backend, max_length) as reader:
        with trio.fail_after(2):
            return [await anext(reader) for _ in range(n)]


async def test_digits_and_shifted_letters_end_at_enter(backend: FakeHidScannerBackend) -> None:
    backend.reports += typed(ONE, ONE, ZERO, MINUS) + [key(A, shift=True), UP, key(A), UP,
                                                       key(0x1F, shift=True), UP, key(ENTER), UP]
    backend.reports += typed(0x22, 0x23, ENTER)

    assert await codes(backend, 2) == ["110-Aa@", "56"]
    assert not backend.kernel_driver  # taken from the keyboard driver, or reads would fail


async def test_a_held_key_types_once(backend: FakeHidScannerBackend) -> None:
    backend.reports += [key(ONE), key(ONE), key(ONE), UP, key(ONE), UP, key(ENTER), key(ENTER), UP]
    backend.reports += typed(0x20, ENTER)  # no empty code from the repeated Enter

    async with scanner(backend) as reader:
        with trio.fail_after(2):
            assert [await anext(reader), await anext(reader)] == ["11", "3"]
        assert reader.dropped == 0


async def test_noise_is_dropped_and_counted(backend: FakeHidScannerBackend) -> None:
    backend.reports += typed(ONE, F1, ONE, ENTER)  # a key not in the table
    backend.reports += typed(ENTER)                # an empty code
    backend.reports += typed(ONE, ONE, ONE, ENTER)  # longer than max_length
    backend.reports += [b"\x00\x00\x1e", UP]       # a report of the wrong size…
    backend.reports += typed(ONE, ENTER)           # …spoils the code it is in
    backend.reports += typed(ZERO, ENTER)

    async with scanner(backend, max_length=2) as reader:
        with trio.fail_after(2):
            assert await anext(reader) == "0"
        assert reader.dropped == 4


async def test_unplugged_scanner_is_offline(backend: FakeHidScannerBackend) -> None:
    backend.unplugged = True
    with pytest.raises(DeviceOffline, match="not found"):
        await codes(backend, 1)

    backend.unplugged = False
    backend.reports += typed(ONE)  # half a code, then the cable is pulled

    async def pull_the_cable() -> None:
        while backend.reports:
            await trio.sleep(0.01)
        await trio.sleep(0.3)  # reads time out meanwhile, and the scanner keeps waiting
        backend.unplugged = True

    async with scanner(backend) as reader, trio.open_nursery() as nursery:
        nursery.start_soon(pull_the_cable)
        with trio.fail_after(2), pytest.raises(DeviceOffline, match="read failed"):
            await anext(reader)
