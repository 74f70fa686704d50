"""A TCP proxy between the server and PostgreSQL that a test can break with the server running:
cut every connection, as a network reset or a restart of PostgreSQL would, or hold every byte,
as a network partition does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
import trio

_CHUNK = 65536


def _open_gate() -> trio.Event:
    gate = trio.Event()
    gate.set()
    return gate


@dataclass(eq=False)
class _Link:
    scope: trio.CancelScope
    gate: trio.Event = field(default_factory=_open_gate)  # bytes pass while it is set


class FaultProxy:
    """Serves on a free loopback port (`run`) in front of the PostgreSQL of `database_url`."""

    def __init__(self, database_url: str) -> None:
        self._info = psycopg.conninfo.conninfo_to_dict(database_url)
        self.target = (self._info.get("host") or "127.0.0.1", int(self._info.get("port") or 5432))
        self.port = 0
        self._links: set[_Link] = set()
        self._new_links_held = False

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
        for link in list(self._links):
            link.scope.cancel()
        return cut

    def partition(self, *, new_links: bool = True) -> None:
        """Hold every byte of the open connections, both ways, until `heal`: nothing is answered
        and nothing refused. New connections are held too, unless `new_links` is False (then
        only the connections open now stay in the dark)."""
        for link in self._links:
            link.gate = trio.Event()
        self._new_links_held = new_links

    def heal(self) -> None:
        """Deliver what was held and let everything through again."""
        for link in self._links:
            link.gate.set()
        self._new_links_held = False

    async def _link(self, client: trio.SocketStream) -> None:
        async with client:
            with trio.CancelScope() as scope:
                link = _Link(scope, trio.Event() if self._new_links_held else _open_gate())
                self._links.add(link)
                try:
                    upstream = await trio.open_tcp_stream(*self.target)
                    async with upstream, trio.open_nursery() as nursery:
                        nursery.start_soon(self._pipe, client, upstream, link)
                        nursery.start_soon(self._pipe, upstream, client, link)
                except OSError:
                    pass  # PostgreSQL refused it: the link ends
                finally:
                    self._links.discard(link)

    @staticmethod
    async def _pipe(source: trio.SocketStream, sink: trio.SocketStream, link: _Link) -> None:
        try:
            while data := await source.receive_some(_CHUNK):
                await link.gate.wait()
                await sink.send_all(data)
            await link.gate.wait()
            await sink.send_eof()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            link.scope.cancel()  # one side went: the link ends
