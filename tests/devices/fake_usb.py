"""A pyusb backend with one simulated USB receipt printer behind it.

No USB hardware exists here, so this is the one fake in the device tests: it stands in for
libusb under the real pyusb ``Device`` code (descriptors, configuration, endpoint lookup,
claiming) and hands the bytes to the same ``PrinterModel`` the TCP and serial simulators use.
"""

from __future__ import annotations

import array
import errno
import time
from types import SimpleNamespace
from typing import Any

import usb.backend
import usb.core

from devices.sim import PrinterModel

VENDOR, PRODUCT = 0x04B8, 0x0202  # an Epson TM-T88 ids
OUT_EP, IN_EP, BULK = 0x01, 0x82, 0x02


class FakePrinterBackend(usb.backend.IBackend):
    """Switches: ``unplugged`` (not enumerated; transfers fail with ENODEV), ``stalled``
    (OUT transfers time out, as when the printer's buffer stays full), ``vanish_after``
    (take that many more bytes, then unplug)."""

    def __init__(self, model: PrinterModel) -> None:
        self.model = model
        self.unplugged = self.stalled = False
        self.vanish_after: int | None = None
        self._replies = bytearray()

    def enumerate_devices(self) -> Any:
        if not self.unplugged:
            yield "printer"

    def get_device_descriptor(self, dev: Any) -> Any:
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=0x200, bDeviceClass=0, bDeviceSubClass=0,
            bDeviceProtocol=0, bMaxPacketSize0=64, idVendor=VENDOR, idProduct=PRODUCT,
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
            bNumEndpoints=2, bInterfaceClass=7, bInterfaceSubClass=1, bInterfaceProtocol=2,
            iInterface=0, extra_descriptors=b"")

    def get_endpoint_descriptor(self, dev: Any, ep: int, intf: int, alt: int, config: int) -> Any:
        return SimpleNamespace(
            bLength=7, bDescriptorType=5, bEndpointAddress=(OUT_EP, IN_EP)[ep],
            bmAttributes=BULK, wMaxPacketSize=64, bInterval=0, bRefresh=0, bSynchAddress=0,
            extra_descriptors=b"")

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

    def bulk_write(self, dev_handle: Any, ep: int, intf: int, data: array.array,
                   timeout: int) -> int:
        self._check_plugged()
        if self.stalled:
            time.sleep(timeout / 1000)
            raise usb.core.USBTimeoutError("Operation timed out", errno=errno.ETIMEDOUT)
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
            time.sleep(timeout / 1000)
            raise usb.core.USBTimeoutError("Operation timed out", errno=errno.ETIMEDOUT)
        n = min(len(buff), len(self._replies))
        buff[:n] = array.array("B", self._replies[:n])
        del self._replies[:n]
        return n

    def _check_plugged(self) -> None:
        if self.unplugged:
            raise usb.core.USBError("No such device", errno=errno.ENODEV)
