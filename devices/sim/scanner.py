"""A serial barcode scanner on a TCP port that pyserial reaches as ``socket://host:port``.

Serial-over-LAN is how many venues wire scanners to a till, and pyserial's ``socket://``
handler makes the driver's ``SerialTransport`` treat the port exactly like a serial line.
Every connected client receives every scan, as a scanner on a shared line would.
"""

from __future__ import annotations

import trio

__all__ = ["ScannerSimulator"]


class ScannerSimulator:
    """``await nursery.start(sim.serve, host, port)`` returns the bound port (0 = any free)."""

    def __init__(self) -> None:
        self.port: int | None = None
        self._clients: set[trio.SocketStream] = set()
        self._joined = trio.Event()
        self._sending = trio.Lock()

    @property
    def clients(self) -> int:
        """How many drivers are connected now."""
        return len(self._clients)

    async def serve(self, host: str = "127.0.0.1", port: int = 0, *,
                    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Accept drivers on ``host:port`` until cancelled."""
        listeners = await trio.open_tcp_listeners(port, host=host)
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self._connection, listeners)

    async def scan(self, code: str) -> None:
        """Send ``code`` the way a scanner in its default setup does: the digits, then CR LF.

        Waits until a driver is connected, so a test's scan is never lost to a race.
        """
        await self.noise(code.encode("ascii") + b"\r\n")

    async def noise(self, data: bytes) -> None:
        """Send raw bytes: line noise, a half-read code, garbage."""
        while not self._clients:
            await self._joined.wait()
        async with self._sending:
            for client in list(self._clients):
                try:
                    await client.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._clients.discard(client)

    async def _connection(self, stream: trio.SocketStream) -> None:
        self._clients.add(stream)
        self._joined.set()
        self._joined = trio.Event()
        try:
            while await stream.receive_some(256):
                pass  # a scanner ignores what the host sends
        except trio.BrokenResourceError:
            pass  # the driver went away
        finally:
            self._clients.discard(stream)
