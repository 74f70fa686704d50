"""pyusb backends with one simulated USB device behind each: a receipt printer, a HID scanner.

No USB hardware exists here, so these are the one fake in the device tests: they stand in for
libusb under the real pyusb ``Device`` code (descriptors, configuration, endpoint lookup,
claiming). The printer hands its bytes to the same ``PrinterModel`` the TCP and serial
simulators use; the scanner plays back the keyboard reports a test queues.
"""

from __future__ import annotations

import array
import errno
import time
from collections import deque
from types import SimpleNamespace
from typing import Any

import usb.backend
import usb.core

from devices.sim import PrinterModel

VENDOR, PRODUCT = 0x04B8, 0x0202  # an Epson TM-T88 ids
OUT_EP, IN_EP, BULK = 0x01, 0x82, 0x02
HID_VENDOR, HID_PRODUCT = 0x0C2E, 0x0B61  # a Honeywell Voyager's ids
HID_IN_EP, INTERRUPT = 0x81, 0x03


class FakeUsbBackend(usb.backend.IBackend):
    """One device with one interface; subclasses say which. ``unplugged``: not enumerated,
    and transfers fail with ENODEV."""

    ids: tuple[int, int]
    interface_class: int
    endpoints: tuple[tuple[int, int], ...]  # (bEndpointAddress, bmAttributes)

    def __init__(self) -> None:
        self.unplugged = False

    def enumerate_devices(self) -> Any:
        if not self.unplugged:
            yield "device"

    def get_device_descriptor(self, dev: Any) -> Any:
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=0x200, bDeviceClass=0, bDeviceSubClass=0,
            bDeviceProtocol=0, bMaxPacketSize0=64, idVendor=self.ids[0], idProduct=self.ids[1],
            bcdDevice=0x100, iManufacturer=0, iProduct=0, iSerialNumber=0,
            bNumConfigurations=1, address=3, bus=1, port_number=1, port_numbers=(1,), speed=3)

    def get_configuration_descriptor(self, dev: Any, config: int) -> Any:
        return SimpleNamespace(
            bLength=9, bDescriptorType=2, wTotalLength=32, bNumInterfaces=1,
            bConfigurationValue=1, iConfiguration=0, bmAttributes=0xC0, bMaxPower=50,
            extra_descriptors=b"")

    def get_interface_descriptor(self, dev: Any, intf: int, alt: int, config: int) -> Any:
        if alt > 0:
            raise IndexError("one alternate setting")
        return SimpleNamespace(
            bLength=9, bDescriptorType=4, bInterfaceNumber=0, bAlternateSetting=0,
            bNumEndpoints=len(self.endpoints), bInterfaceClass=self.interface_class,
            bInterfaceSubClass=1, bInterfaceProtocol=2 if self.interface_class == 7 else 1,
            iInterface=0, extra_descriptors=b"")

    def get_endpoint_descriptor(self, dev: Any, ep: int, intf: int, alt: int, config: int) -> Any:
        address, attributes = self.endpoints[ep]
        return SimpleNamespace(
            bLength=7, bDescriptorType=5, bEndpointAddress=address, bmAttributes=attributes,
            wMaxPacketSize=64 if attributes == BULK else 8, bInterval=0 if attributes == BULK else 10,
            bRefresh=0, bSynchAddress=0, extra_descriptors=b"")

    def open_device(self, dev: Any) -> Any:
        return "handle"

    def close_device(self, dev_handle: Any) -> None:
        pass

    def set_configuration(self, dev_handle: Any, config_value: int) -> None:
        self._check_plugged()

    def get_configuration(self, dev_handle: Any) -> int:
        return 1

    def claim_interface(self, dev_handle: Any, intf: int) -> None:
        pass

    def release_interface(self, dev_handle: Any, intf: int) -> None:
        pass

    def is_kernel_driver_active(self, dev_handle: Any, intf: int) -> bool:
        return False

    def _check_plugged(self) -> None:
        if self.unplugged:
            raise usb.core.USBError("No such device", errno=errno.ENODEV)

    @staticmethod
    def _time_out(timeout: int) -> None:
        time.sleep(timeout / 1000)
        raise usb.core.USBTimeoutError("Operation timed out", errno=errno.ETIMEDOUT)


class FakePrinterBackend(FakeUsbBackend):
    """A printer-class interface with a bulk OUT and a bulk IN endpoint. Switches besides
    ``unplugged``: ``stalled`` (OUT transfers time out, as when the printer's buffer stays
    full), ``vanish_after`` (take that many more bytes, then unplug)."""

    ids, interface_class, endpoints = (VENDOR, PRODUCT), 7, ((OUT_EP, BULK), (IN_EP, BULK))

    def __init__(self, model: PrinterModel) -> None:
        super().__init__()
        self.model = model
        self.stalled = False
        self.vanish_after: int | None = None
        self._replies = bytearray()

    def bulk_write(self, dev_handle: Any, ep: int, intf: int, data: array.array,
                   timeout: int) -> int:
        self._check_plugged()
        if self.stalled:
            self._time_out(timeout)
        if self.vanish_after is not None and len(data) > self.vanish_after:
            self.model.receive(data[: self.vanish_after].tobytes())
            self.unplugged = True
            self._check_plugged()
        if self.vanish_after is not None:
            self.vanish_after -= len(data)
        self._replies += self.model.receive(data.tobytes())
        return len(data)

    def bulk_read(self, dev_handle: Any, ep: int, intf: int, buff: array.array,
                  timeout: int) -> int:
        self._check_plugged()
        if not self._replies:
            self._time_out(timeout)
        n = min(len(buff), len(self._replies))
        buff[:n] = array.array("B", self._replies[:n])
        del self._replies[:n]
        return n


class FakeHidScannerBackend(FakeUsbBackend):
    """A boot-keyboard HID interface with its interrupt IN endpoint, bound to the kernel's
    keyboard driver until detached. ``reports`` is played back one per read."""

    ids, interface_class, endpoints = (HID_VENDOR, HID_PRODUCT), 3, ((HID_IN_EP, INTERRUPT),)

    def __init__(self) -> None:
        super().__init__()
        self.reports: deque[bytes] = deque()
        self.kernel_driver = True

    def is_kernel_driver_active(self, dev_handle: Any, intf: int) -> bool:
        return self.kernel_driver

    def detach_kernel_driver(self, dev_handle: Any, intf: int) -> None:
        self.kernel_driver = False

    def intr_read(self, dev_handle: Any, ep: int, intf: int, buff: array.array,
                  timeout: int) -> int:
        self._check_plugged()
        if self.kernel_driver:
            raise usb.core.USBError("Resource busy", errno=errno.EBUSY)
        if not self.reports:
            self._time_out(timeout)
        report = self.reports.popleft()
        buff[: len(report)] = array.array("B", report)
        return len(report)
