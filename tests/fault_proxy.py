"""A TCP proxy between the server and PostgreSQL that a test can break: cut every connection,
as a network reset or a restart of PostgreSQL would, with the server running."""

from __future__ import annotations

from typing import Any

import psycopg
import trio

_CHUNK = 65536


class FaultProxy:
    """Serves on a free loopback port (`run`) in front of the PostgreSQL of `database_url`."""

    def __init__(self, database_url: str) -> None:
        self._info = psycopg.conninfo.conninfo_to_dict(database_url)
        self.target = (self._info.get("host") or "127.0.0.1", int(self._info.get("port") or 5432))
        self.port = 0
        self._links: set[trio.CancelScope] = set()

    @property
    def url(self) -> str:
        """The database's URL through the proxy."""
        return psycopg.conninfo.make_conninfo(**{**self._info, "host": "127.0.0.1", "port": str(self.port)})

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            task_status.started()
            await trio.serve_listeners(self._link, listeners, handler_nursery=nursery)

    def reset(self) -> int:
        """Cut every open connection; new ones are let through. Returns how many were cut."""
        cut = len(self._links)
        for scope in list(self._links):
            scope.cancel()
        return cut

    async def _link(self, client: trio.SocketStream) -> None:
        async with client:
            with trio.CancelScope() as scope:
                self._links.add(scope)
                try:
                    upstream = await trio.open_tcp_stream(*self.target)
                    async with upstream, trio.open_nursery() as nursery:
                        nursery.start_soon(self._pipe, client, upstream)
                        nursery.start_soon(self._pipe, upstream, client)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    pass  # the other side went: the link ends
                finally:
                    self._links.discard(scope)

    async def _pipe(self, source: trio.SocketStream, sink: trio.SocketStream) -> None:
        while data := await source.receive_some(_CHUNK):
            await sink.send_all(data)
        await sink.send_eof()
