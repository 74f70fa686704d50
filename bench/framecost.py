"""What one WebSocket frame costs to send, by the server's path and by a bare writer.

    .venv/bin/python bench/framecost.py

Sends 4 000 text frames of 2.4 kB (an order event's size) to one trio-websocket client in this
process: through quart-trio and hypercorn one `websocket.send` at a time; through the server's
own `FrameWriter` (fynlo/web/frames.py) one frame and five frames to a write; and through
wsproto and a bare `trio.SocketStream`, one frame and 50 frames to a write. Prints the CPU of
the process per frame, the client's included: the last figure is close to the client's alone,
so the differences are the server's.
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

from fynlo.web.frames import FrameWriter, capture_send

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


async def through_quart(per_write: int = 0) -> float:
    """`per_write` 0: `websocket.send` per frame; else the FrameWriter, so many frames a write."""
    app = QuartTrio(__name__)
    spent: list[float] = []

    @app.websocket("/ws")
    async def send_frames() -> None:
        await websocket.accept()
        writer = FrameWriter(websocket.scope, websocket.send)
        started = _cpu()
        if per_write:
            assert writer.batched
            for _ in range(FRAMES // per_write):
                await writer.send([FRAME] * per_write)
        else:
            for _ in range(FRAMES):
                await websocket.send(FRAME)
        spent.append(_cpu() - started)
        await trio.sleep_forever()

    app.asgi_app = capture_send(app.asgi_app)  # type: ignore[method-assign]

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
                             ("FrameWriter, 1 frame a write", through_quart, (1,)),
                             ("FrameWriter, 5 frames a write", through_quart, (5,)),
                             ("wsproto + bare send_all", bare, (1,)),
                             ("wsproto + bare send_all, 50 frames a write", bare, (50,))):
        print(f"{label:45} {trio.run(run, *args) / FRAMES * 1e6:6.0f} µs per frame (client included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
