"""The one interface every wire offers the drivers above it.

A transport moves bytes and nothing else: no ESC/POS, no barcodes. Keeping it this small
is what lets the same ``Printer`` run over TCP, serial or USB, and lets a simulator sit at
the other end of any of them (STYLE.md convention 11).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Transport"]


class Transport(Protocol):
    """A byte pipe to one device, opened and closed explicitly.

    Every method raises only ``DeviceError`` subclasses for device trouble, never the
    socket, serial or USB library's own exceptions.
    """

    async def open(self) -> None:
        """Connect to the device. Raises ``DeviceOffline`` when it cannot be reached."""

    async def send(self, data: bytes) -> None:
        """Hand all of ``data`` to the device.

        Raises ``DeviceTimeout`` when it does not take the data within the transport's
        write timeout, ``DeviceOffline`` when the link breaks. Either way part of the data
        may have been delivered.
        """

    async def receive(self, max_bytes: int, timeout: float | None) -> bytes:
        """Return between 1 and ``max_bytes`` bytes as soon as any arrive.

        Raises ``DeviceTimeout`` when nothing arrives within ``timeout`` seconds (``None``
        waits for ever, still cancellable), ``DeviceOffline`` when the link is gone.
        """

    async def close(self) -> None:
        """Release the device. Never raises for device trouble; safe to call twice."""
