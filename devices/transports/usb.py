"""USB printers through pyusb (libusb) in worker threads.

Most USB receipt printers are a vendor-specific or printer-class interface with one bulk OUT
endpoint for commands and one bulk IN endpoint for status answers, which is all this needs.
``backend`` is passed straight to ``usb.core.find``: in production it picks a libusb flavour
(or stays ``None`` for pyusb's choice); in tests it is the seam a simulated device plugs into.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import trio
import usb.core
import usb.util

from ..errors import DeviceOffline, DeviceTimeout
from ._threads import POLL, receive_in_slices

__all__ = ["UsbTransport"]


class UsbTransport:
    """One USB printer, found by vendor and product id.

    ``out_ep``/``in_ep`` default to the endpoints most ESC/POS printers use (python-escpos's
    defaults too); ``timeout`` bounds every write, in seconds.
    """

    def __init__(self, vendor_id: int, product_id: int, *, out_ep: int = 0x01,
                 in_ep: int = 0x82, interface: int = 0, timeout: float = 10.0,
                 backend: Any = None) -> None:
        self.vendor_id, self.product_id = vendor_id, product_id
        self.out_ep, self.in_ep, self.interface = out_ep, in_ep, interface
        self.timeout, self._backend = timeout, backend
        self._device: Any = None

    def __repr__(self) -> str:
        return f"UsbTransport({self.vendor_id:#06x}, {self.product_id:#06x})"

    async def open(self) -> None:
        """Find the device, take it from the kernel's printer driver, configure it.

        Raises:
            DeviceOffline: not plugged in, no libusb on this machine, or busy/denied.
        """
        await self.close()
        self._device = await trio.to_thread.run_sync(self._open)

    async def send(self, data: bytes) -> None:
        """Write all of ``data`` to the OUT endpoint, each transfer within ``timeout``.

        Raises:
            DeviceTimeout: the printer stopped accepting transfers.
            DeviceOffline: the device was unplugged or failed.
        """
        await trio.to_thread.run_sync(self._write, self._require(), data)

    async def receive(self, max_bytes: int, timeout: float | None) -> bytes:
        """Read from the IN endpoint (see ``Transport.receive``)."""
        device = self._require()
        return await receive_in_slices(partial(self._read_slice, device), max_bytes, timeout,
                                       repr(self))

    async def close(self) -> None:
        """Release the interface and handle; an unplugged device is not an error here."""
        device, self._device = self._device, None
        if device is not None:
            try:
                await trio.to_thread.run_sync(usb.util.dispose_resources, device)
            except usb.core.USBError:
                pass  # unplugged: the handle is already gone

    def _require(self) -> Any:
        if self._device is None:
            raise DeviceOffline(f"{self!r}: not open")
        return self._device

    def _open(self) -> Any:
        try:
            device = usb.core.find(idVendor=self.vendor_id, idProduct=self.product_id,
                                   backend=self._backend)
            if device is None:
                raise DeviceOffline(f"{self!r}: not found (unplugged or switched off?)")
            try:
                if device.is_kernel_driver_active(self.interface):
                    device.detach_kernel_driver(self.interface)
            except NotImplementedError:
                pass  # only libusb1 on Linux has kernel drivers to detach
            device.set_configuration()
        except usb.core.NoBackendError as exc:
            raise DeviceOffline(f"{self!r}: no USB backend (is libusb installed?)") from exc
        except usb.core.USBError as exc:
            raise DeviceOffline(f"{self!r}: cannot open: {exc}") from exc
        return device

    def _write(self, device: Any, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = device.write(self.out_ep, bytes(view), int(self.timeout * 1000))
                if written <= 0:
                    raise usb.core.USBTimeoutError("the printer took no bytes")
                view = view[written:]
        except usb.core.USBTimeoutError as exc:
            raise DeviceTimeout(f"{self!r}: write did not finish within {self.timeout}s") from exc
        except usb.core.USBError as exc:
            raise DeviceOffline(f"{self!r}: write failed: {exc}") from exc

    def _read_slice(self, device: Any, max_bytes: int) -> bytes:
        try:
            return bytes(device.read(self.in_ep, max_bytes, int(POLL * 1000)))
        except usb.core.USBTimeoutError:
            return b""
        except usb.core.USBError as exc:
            raise DeviceOffline(f"{self!r}: read failed: {exc}") from exc
