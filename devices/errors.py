"""The errors every device driver raises, whatever wire it speaks.

* DeviceError
  x DeviceOffline        the device cannot be reached: refused, reset, unplugged, not found
  x DeviceTimeout        reached, but it did not take the data (or answer) in time
  x DeviceProtocolError  it answered something we cannot understand
  x PaperOut             the printer says it has no paper
  x CoverOpen            the printer says its cover is open

Drivers translate socket, serial and USB errors into these at the boundary, so the bridge
handles one vocabulary whichever transport a device uses.

``maybe_sent`` carries the one fact the bridge needs to keep "printed once" honest
(ARCHITECTURE.md, Hardware bridge): ESC/POS has no print acknowledgement, so once any byte of
a job may have reached the device its outcome is unknown and any reprint must be a marked
COPY. ``False`` means nothing of this job left our side and it can safely go elsewhere as an
original.
"""

from __future__ import annotations

__all__ = [
    "CoverOpen",
    "DeviceError",
    "DeviceOffline",
    "DeviceProtocolError",
    "DeviceTimeout",
    "PaperOut",
]


class DeviceError(Exception):
    """Root of the device errors; ``maybe_sent`` says whether part of the job may be out."""

    def __init__(self, message: str, *, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class DeviceOffline(DeviceError):
    """The device cannot be reached: connection refused or reset, unplugged, not found."""


class DeviceTimeout(DeviceError):
    """The device was reached but did not take the data or answer within the time allowed."""


class DeviceProtocolError(DeviceError):
    """The device answered with bytes that do not follow its protocol (garbled, partial)."""


class PaperOut(DeviceError):
    """The printer reports that it has run out of paper; nothing was sent."""


class CoverOpen(DeviceError):
    """The printer reports that its cover is open; nothing was sent."""
