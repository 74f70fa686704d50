"""A network ESC/POS printer: a TCP listener (port 9100 in real life) around ``PrinterModel``.

Switches beyond the model's (see ``model``):

* ``offline``: the printer is switched off. The listening socket is closed, so connections
  are refused as by a powered-off printer's host, and open connections are dropped.
  Switching it back on listens again on the same port.
* ``hang``: new connections are accepted and then never read (wedged firmware), for the
  driver's write timeout.
* ``vanish_after = N``: after N more bytes on a connection the printer loses power: the
  connection is reset, anything half printed is lost and the printer goes ``offline``.

Like a real printer's, the receive buffer is small (4 KiB), so a printer that stops reading
pushes back on the sender after a few kilobytes rather than megabytes.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Callable

import trio

from .model import PrinterModel

__all__ = ["PrinterSimulator"]

_RECEIVE_BUFFER = 4096


class PrinterSimulator(PrinterModel):
    """``await nursery.start(sim.serve, host, port)`` returns the bound port (0 = any free)."""

    def __init__(self, *, output_path: str | os.PathLike[str] | None = None,
                 on_job: Callable[[str], None] | None = None) -> None:
        super().__init__(output_path=output_path, on_job=on_job)
        self.hang = False
        self.vanish_after: int | None = None
        self.port: int | None = None
        self._offline = False
        self._switched = trio.Event()

    @property
    def offline(self) -> bool:
        """Whether the printer is switched off (connections refused)."""
        return self._offline

    @offline.setter
    def offline(self, value: bool) -> None:
        self._offline = value
        self._switched.set()
        self._switched = trio.Event()

    async def serve(self, host: str = "127.0.0.1", port: int = 0, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on ``host:port`` until cancelled, following the ``offline`` switch."""
        while True:
            listeners = await trio.open_tcp_listeners(port, host=host)
            for listener in listeners:
                listener.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            port = self.port = listeners[0].socket.getsockname()[1]
            task_status.started(port)
            task_status = trio.TASK_STATUS_IGNORED
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._switch_off, nursery.cancel_scope)
                    for listener in listeners:
                        nursery.start_soon(self._accept, listener, nursery)
            finally:
                for listener in listeners:
                    listener.socket.close()  # now: refusing connections is the point
            await self._until(offline=False)

    async def _until(self, *, offline: bool) -> None:
        while self._offline != offline:
            await self._switched.wait()

    async def _switch_off(self, scope: trio.CancelScope) -> None:
        await self._until(offline=True)
        scope.cancel()

    async def _accept(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        while True:
            stream = await listener.accept()
            nursery.start_soon(self._connection, stream)

    async def _connection(self, stream: trio.SocketStream) -> None:
        async with stream:
            if self.hang:
                await trio.sleep_forever()
            received = 0
            try:
                while data := await stream.receive_some(_RECEIVE_BUFFER):
                    if self.vanish_after is not None and received + len(data) >= self.vanish_after:
                        self.receive(data[: self.vanish_after - received])
                        self._vanish(stream)
                        return
                    received += len(data)
                    if reply := self.receive(data):
                        await stream.send_all(reply)
            except trio.BrokenResourceError:
                return  # the host went away; a printer does not care

    def _vanish(self, stream: trio.SocketStream) -> None:
        # SO_LINGER 0 makes the close a reset, as when the printer loses power mid-job.
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.vanish_after = None
        self.power_cycle()
        self.offline = True
