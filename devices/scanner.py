"""Barcode scanners on a serial line: one code per line, noise dropped.

A serial scanner types each code followed by a terminator (CR LF by default; CR or LF alone
on some). Lines that cannot be a barcode are dropped and counted in ``dropped``, never
raised: a glitching cable must not stop the till. Resolving a code to a menu item is the
server's job, so any clean code is yielded, known or not.
"""

from __future__ import annotations

from collections import deque
from types import TracebackType
from typing import Self

from .errors import DeviceError
from .transports.base import Transport

__all__ = ["Scanner"]

CR, LF = 0x0D, 0x0A


class Scanner:
    """``async for code in Scanner(transport)`` yields each clean barcode as a string.

    A clean barcode is printable ASCII (surrounding spaces trimmed) of at most
    ``max_length`` characters. Noise is a line holding any other byte, a blank line, or a
    run of more than ``max_length`` bytes without a terminator.

    The transport is opened on first use (or by ``async with``) and closed by ``aclose``,
    on leaving the ``async with``, or when the link fails.

    Raises (from iteration):
        DeviceOffline: the scanner cannot be opened or its link went away.
    """

    read_size = 256  # bytes asked of the transport at a time

    def __init__(self, transport: Transport, *, max_length: int = 128) -> None:
        self.transport, self.max_length = transport, max_length
        self.dropped = 0
        self._open = False
        self._codes: deque[str] = deque()
        self._line = bytearray()
        self._overlong = self._after_cr = False

    async def __aenter__(self) -> Self:
        await self._ensure_open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> str:
        await self._ensure_open()
        while not self._codes:
            try:
                data = await self.transport.receive(self.read_size, None)
            except DeviceError:
                await self.aclose()
                raise
            self._take(data)
        return self._codes.popleft()

    async def aclose(self) -> None:
        """Close the transport."""
        if self._open:
            self._open = False
            await self.transport.close()

    async def _ensure_open(self) -> None:
        if not self._open:
            await self.transport.open()
            self._open = True

    def _take(self, data: bytes) -> None:
        for byte in data:
            after_cr, self._after_cr = self._after_cr, byte == CR
            if byte == LF and after_cr:
                continue  # the LF of a CR LF pair
            if byte in (CR, LF):
                self._end_line()
            elif len(self._line) >= self.max_length:
                self._overlong = True
            else:
                self._line.append(byte)

    def _end_line(self) -> None:
        line, overlong = bytes(self._line), self._overlong
        self._line.clear()
        self._overlong = False
        code = line.strip(b" ")
        if overlong or not code or any(not 0x20 <= b <= 0x7E for b in code):
            self.dropped += 1
        else:
            self._codes.append(code.decode("ascii"))
