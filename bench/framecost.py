"""What one WebSocket frame costs to send, by the server's path and by a bare writer.

    .venv/bin/python bench/framecost.py

Sends 4 000 text frames of 2.4 kB (an order event's size) to one trio-websocket client in this
process, three ways: through quart-trio and hypercorn (`websocket.send`, as the server does),
through wsproto and a bare `trio.SocketStream`, and the same with 50 frames joined into one
write. Prints the CPU of the process per frame, the client's included: the third figure is
close to the client's alone, so the differences are the server's.
"""

from __future__ import annotations

import json
import resource
from typing import Any

import trio
import trio_websocket
from hypercorn.config import Config
from hypercorn.trio import serve
from quart import websocket
from quart_trio import QuartTrio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

FRAMES = 4000
FRAME = json.dumps({"type": "event", "seq": 1, "name": "order.updated", "data": {"x": "y" * 2300}})


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _read_all(url: str) -> None:
    try:
        async with trio_websocket.open_websocket_url(url, disconnect_timeout=0.1) as ws:
            for _ in range(FRAMES):
                await ws.get_message()
    except trio_websocket.DisconnectionTimeout:
        pass  # the bare writers do not answer a close: not what is measured


async def through_quart() -> float:
    app = QuartTrio(__name__)
    spent: list[float] = []

    @app.websocket("/ws")
    async def send_frames() -> None:
        await websocket.accept()
        started = _cpu()
        for _ in range(FRAMES):
            await websocket.send(FRAME)
        spent.append(_cpu() - started)
        await trio.sleep_forever()

    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.loglevel = "WARNING"
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, app, config)
        await _read_all(binds[0].replace("http", "ws") + "/ws")
        nursery.cancel_scope.cancel()
    return spent[0]


async def bare(joined: int) -> float:
    spent: list[float] = []

    async def handler(stream: Any) -> None:
        conn = WSConnection(ConnectionType.SERVER)
        while not any(isinstance(e, Request) for e in conn.events()):
            conn.receive_data(await stream.receive_some(65536))
        await stream.send_all(conn.send(AcceptConnection()))
        started = _cpu()
        for _ in range(FRAMES // joined):
            await stream.send_all(b"".join(conn.send(TextMessage(FRAME)) for _ in range(joined)))
        spent.append(_cpu() - started)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(trio.serve_tcp, handler, 0)
        port = listeners[0].socket.getsockname()[1]
        await _read_all(f"ws://127.0.0.1:{port}/")
        nursery.cancel_scope.cancel()
    return spent[0]


def main() -> int:
    for label, run, args in (("quart-trio + hypercorn, websocket.send", through_quart, ()),
                             ("wsproto + bare send_all", bare, (1,)),
                             ("wsproto + bare send_all, 50 frames a write", bare, (50,))):
        print(f"{label:45} {trio.run(run, *args) / FRAMES * 1e6:6.0f} µs per frame (client included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
