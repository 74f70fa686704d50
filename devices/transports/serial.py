"""Serial devices (RS-232 printers, serial barcode scanners) through pyserial in worker threads.

``serial.serial_for_url`` is used rather than ``serial.Serial`` so the same class reaches a
device path (``/dev/ttyUSB0``, a pseudo-terminal) or a pyserial URL (``socket://host:port``
for a serial-over-LAN adapter, ``loop://``). pyserial blocks, so every call runs in a Trio
worker thread; reads run in short slices so they stay cancellable (see ``_threads``).
"""

from __future__ import annotations

from functools import partial

import serial
import trio

from ..errors import DeviceOffline, DeviceTimeout
from ._threads import POLL, receive_in_slices

__all__ = ["SerialTransport"]


class SerialTransport:
    """A serial port opened with ``serial_for_url(url_or_path, baudrate)``.

    A serial line has no connection: a printer that is switched off simply never answers,
    so on serial "offline" usually shows up as a status query timing out, not as an error
    on send.
    """

    def __init__(self, url_or_path: str, baudrate: int = 9600, *,
                 write_timeout: float = 10.0) -> None:
        self.url, self.baudrate, self.write_timeout = url_or_path, baudrate, write_timeout
        self._port: serial.SerialBase | None = None

    def __repr__(self) -> str:
        return f"SerialTransport({self.url!r}, {self.baudrate})"

    async def open(self) -> None:
        """Open the port.

        Raises:
            DeviceOffline: no such device, permission denied, nothing listening on a URL.
            ValueError: ``url_or_path`` is a URL pyserial does not know (a config mistake).
        """
        await self.close()
        opener = partial(serial.serial_for_url, self.url, baudrate=self.baudrate,
                         timeout=POLL, write_timeout=self.write_timeout)
        try:
            self._port = await trio.to_thread.run_sync(opener)
        except (serial.SerialException, OSError) as exc:
            raise DeviceOffline(f"{self!r}: cannot open: {exc}") from exc

    async def send(self, data: bytes) -> None:
        """Write all of ``data`` within ``write_timeout``.

        Raises:
            DeviceTimeout: the line did not drain in time (flow control held it, or nobody
                reads the other end of a pseudo-terminal).
            DeviceOffline: the port went away.
        """
        await trio.to_thread.run_sync(self._write, self._require(), data)

    async def receive(self, max_bytes: int, timeout: float | None) -> bytes:
        """Return the next bytes from the line (see ``Transport.receive``)."""
        port = self._require()
        return await receive_in_slices(partial(self._read_slice, port), max_bytes, timeout,
                                       repr(self))

    async def close(self) -> None:
        """Close the port; errors from a port that already vanished are ignored."""
        port, self._port = self._port, None
        if port is not None:
            try:
                await trio.to_thread.run_sync(port.close)
            except (serial.SerialException, OSError):
                pass  # the device is gone; there is nothing left to release

    def _require(self) -> serial.SerialBase:
        if self._port is None:
            raise DeviceOffline(f"{self!r}: not open")
        return self._port

    def _write(self, port: serial.SerialBase, data: bytes) -> None:
        try:
            port.write(data)
        except serial.SerialTimeoutException as exc:
            raise DeviceTimeout(f"{self!r}: write did not finish within "
                                f"{self.write_timeout}s") from exc
        except (serial.SerialException, OSError) as exc:
            raise DeviceOffline(f"{self!r}: write failed: {exc}") from exc

    def _read_slice(self, port: serial.SerialBase, max_bytes: int) -> bytes:
        """Block up to ``POLL`` seconds for one byte, then take whatever else is waiting."""
        try:
            first = port.read(1)
            if not first:
                return b""
            waiting = min(port.in_waiting, max_bytes - 1)
            return first + (port.read(waiting) if waiting > 0 else b"")
        except (serial.SerialException, OSError) as exc:
            raise DeviceOffline(f"{self!r}: read failed: {exc}") from exc
