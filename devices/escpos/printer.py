"""An ESC/POS printer on any transport: print documents, kick the drawer, ask for status.

Every operation opens the transport, does its work and closes it again. Network printers
commonly serve one connection at a time and drop idle ones; serial and USB lose nothing by
it; and a printer that was power-cycled between jobs just works on the next one.

Before sending a job the printer is asked for its status, when it has shown it answers: a
printer that says it is out of paper or has its cover open gets nothing (``PaperOut``,
``CoverOpen``, with ``maybe_sent=False``), so the bridge can hold the job or send it to a
backup as an original. A printer that does not answer DLE EOT (some do not) is remembered
as silent and sent to directly, until a later ``status()`` hears from it again.
"""

from __future__ import annotations

from typing import Literal

import trio

from ..errors import (
    CoverOpen,
    DeviceError,
    DeviceOffline,
    DeviceProtocolError,
    DeviceTimeout,
    PaperOut,
)
from ..transports.base import Transport
from .doc import Doc, DrawerKick
from .encode import encode
from .status import (
    OFFLINE_CAUSE,
    PAPER,
    PRINTER,
    PrinterStatus,
    parse_status,
    status_request,
)

__all__ = ["Printer"]


class Printer:
    """An ESC/POS printer on ``transport``, with paper ``width_chars`` columns wide.

    Operations on one ``Printer`` run one at a time (a lock), so a status poll never lands
    in the middle of a job's bytes.
    """

    def __init__(self, transport: Transport, width_chars: int = 48, *,
                 status_timeout: float = 1.0) -> None:
        self.transport, self.width_chars = transport, width_chars
        self.status_timeout = status_timeout
        self.last_status = PrinterStatus()
        self._answers_status = True
        self._lock = trio.Lock()

    async def print(self, doc: Doc) -> None:
        """Print ``doc``.

        Raises:
            DeviceOffline, DeviceTimeout: with ``maybe_sent`` telling whether any of the
                job may have reached the printer (and so may be on paper).
            PaperOut, CoverOpen: the printer said so before anything was sent.

        Cancellation: if cancelled while sending, part of the job may have printed.
        """
        await self._deliver(encode(doc, self.width_chars))

    async def kick_drawer(self, pin: Literal[2, 5] = 2) -> None:
        """Open the cash drawer wired to the printer's connector (``pin`` 2 or 5).

        It goes through the same checks as a print: a printer that is out of paper is
        offline and ignores ESC p, so that is reported instead of pretending it opened.
        """
        await self._deliver(encode([DrawerKick(pin)], self.width_chars))

    async def status(self) -> PrinterStatus:
        """Ask the printer (DLE EOT 1, 2, 4) and return what it says.

        Fields it did not answer (no reply within ``status_timeout``, a garbled or partial
        reply, a printer that would not even take the question) are ``None``: status
        unknown, never an exception.

        Raises:
            DeviceOffline: the printer cannot be reached at all.
        """
        async with self._lock:
            await self.transport.open()
            try:
                return await self._query()
            except DeviceTimeout:
                self.last_status = PrinterStatus()
                return self.last_status
            finally:
                await self.transport.close()

    async def _deliver(self, data: bytes) -> None:
        async with self._lock:
            await self.transport.open()
            try:
                if self._answers_status:
                    _refuse_if_not_ready(await self._query())
                try:
                    await self.transport.send(data)
                except DeviceError as exc:
                    exc.maybe_sent = True
                    raise
            finally:
                await self.transport.close()

    async def _query(self) -> PrinterStatus:
        status = PrinterStatus()
        for n in (PRINTER, OFFLINE_CAUSE, PAPER):
            await self.transport.send(status_request(n))
            try:
                reply = await self.transport.receive(16, self.status_timeout)
            except DeviceTimeout:
                if n == PRINTER:  # silent from the first question: it does not do DLE EOT
                    self._answers_status = False
                    break
                continue
            self._answers_status = True
            try:
                status = status.merge(parse_status(n, reply))
            except DeviceProtocolError:
                continue  # garbled: this part stays unknown
        self.last_status = status
        return status


def _refuse_if_not_ready(status: PrinterStatus) -> None:
    if status.paper_out:
        raise PaperOut("printer reports paper out")
    if status.cover_open:
        raise CoverOpen("printer reports cover open")
    if status.online is False:
        raise DeviceOffline("printer reports itself offline")
