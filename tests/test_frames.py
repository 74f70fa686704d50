"""The frame writer: several frames in one write, straight to the socket under hypercorn over
plain TCP, and one ASGI message each elsewhere."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import socket

import trio
import trio_websocket
from hypercorn.config import Config
from hypercorn.trio import serve

from fynlo.web.frames import FrameWriter, capture_send

FRAMES = ['{"type":"event","seq":1}', '{"type":"event","seq":2,"data":"' + "é" * 3000 + '"}', "{}"]


def _app(handler: Any, results: list[Any], *, close: bool) -> Any:
    """An ASGI app that accepts one WebSocket, records what `handler(scope, receive, send)`
    returns, then closes it (`close`)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        results.append(await handler(scope, receive, send))
        if close:
            await send({"type": "websocket.close", "code": 1000})

    return capture_send(app)


@asynccontextmanager
async def _serving(app: Any) -> AsyncIterator[str]:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.loglevel = "WARNING"
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, app, config)
        yield binds[0].replace("http", "ws") + "/ws"
        nursery.cancel_scope.cancel()


async def _serve_once(handler: Any) -> tuple[list[Any], list[str]]:
    """Serve `handler` to one client; return what it returned and the frames the client got."""
    results: list[Any] = []
    received: list[str] = []
    async with _serving(_app(handler, results, close=True)) as url:
        async with trio_websocket.open_websocket_url(url) as ws:
            try:
                while True:
                    received.append(await ws.get_message())
            except trio_websocket.ConnectionClosed:
                pass
    return results, received


async def test_frames_go_out_in_one_write_under_hypercorn_intact_and_in_order() -> None:
    async def handler(scope: dict[str, Any], receive: Any, send: Any) -> bool:
        one_by_one: list[str] = []

        async def send_one(frame: str) -> None:
            one_by_one.append(frame)

        writer = FrameWriter(scope, send_one)
        await writer.send(FRAMES)
        now = writer.send_now(FRAMES[:2])  # nothing else is writing: written at once, in one write
        assert one_by_one == []  # nothing took the per-frame path
        return writer.batched, writer.direct, now, writer.owing

    results, received = await _serve_once(handler)
    assert results == [(True, True, True, False)]
    assert received == FRAMES + FRAMES[:2]


async def test_what_the_socket_does_not_take_at_once_follows_intact_and_a_pong_waits_its_turn() -> None:
    """A socket that is not read fills up: a write without waiting takes part of a frame and the
    rest follows, before the next frames, when the client reads; hypercorn's pong to a ping
    sent meanwhile goes out after them, not inside one of our frames."""
    frames = [f'{{"n":{n},"pad":"{"x" * 64_000}"}}' for n in range(32)]  # 2 MB

    async def handler(scope: dict[str, Any], receive: Any, send: Any) -> tuple[bool, bool, bool]:
        writer = FrameWriter(scope, send_one=lambda frame: trio.lowlevel.checkpoint())
        assert writer._tcp is not None
        writer._tcp.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        began = writer.send_now(frames[:1])  # without waiting: the socket takes a part of it
        owing = writer.owing
        await writer.send(frames[1:])  # the rest of the first, then the others
        return began, owing, writer.owing

    results: list[Any] = []
    received: list[str] = []
    async with _serving(_app(handler, results, close=True)) as url:
        async with trio_websocket.open_websocket_url(url) as ws:
            await trio.sleep(0.2)  # the server's write is stuck on the full socket by now
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ws.ping, b"are you there")
                with trio.fail_after(10):
                    try:
                        while True:
                            received.append(await ws.get_message())
                    except trio_websocket.ConnectionClosed:
                        pass
    assert results == [(True, True, False)]
    assert received == frames


async def test_without_hypercorns_stream_each_frame_is_its_own_asgi_message() -> None:
    async def handler(scope: dict[str, Any], receive: Any, send: Any) -> list[str]:
        sent: list[str] = []

        async def send_one(frame: str) -> None:
            sent.append(frame)
            await send({"type": "websocket.send", "text": frame})

        writer = FrameWriter({k: v for k, v in scope.items() if k != "fynlo.asgi_send"}, send_one)
        assert not writer.batched and not writer.send_now(FRAMES[:1])
        await writer.send(FRAMES)
        return sent

    results, received = await _serve_once(handler)
    assert results == [FRAMES]
    assert received == FRAMES


async def test_after_the_client_has_gone_sending_is_a_quiet_no_op() -> None:
    async def handler(scope: dict[str, Any], receive: Any, send: Any) -> str:
        writer = FrameWriter(scope, send_one=lambda frame: trio.lowlevel.checkpoint())
        message = await receive()  # the client closes first (below)
        await writer.send(FRAMES)  # neither raises nor writes to a closed connection
        return str(message["type"])

    results: list[Any] = []
    async with _serving(_app(handler, results, close=False)) as url:
        async with trio_websocket.open_websocket_url(url):
            pass  # close at once
        with trio.fail_after(5):
            while not results:
                await trio.sleep(0.01)
    assert results == ["websocket.disconnect"]


async def test_a_connection_that_negotiated_compression_gets_its_own_compressed_frames() -> None:
    """Plain frames are shared between sockets; a client that offered permessage-deflate (the
    terminals offer nothing) gets frames compressed with its own connection's state."""
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, CloseConnection, Request
    from wsproto.extensions import PerMessageDeflate

    async def handler(scope: dict[str, Any], receive: Any, send: Any) -> bool:
        writer = FrameWriter(scope, send_one=lambda frame: trio.lowlevel.checkpoint())
        assert not writer.send_now(FRAMES[:1])  # its frames need its own compressor's turn
        await writer.send(FRAMES)
        return writer._shared

    results: list[Any] = []
    received: list[str] = []
    wire = 0  # bytes from the server, the handshake's response (< 500) included
    async with _serving(_app(handler, results, close=True)) as url:
        host, port = url.removeprefix("ws://").split("/")[0].split(":")
        stream = await trio.open_tcp_stream(host, int(port))
        client = WSConnection(ConnectionType.CLIENT)
        await stream.send_all(client.send(Request(host=host, target="/ws", extensions=[PerMessageDeflate()])))
        text = ""
        with trio.fail_after(5):
            while True:
                data = await stream.receive_some()
                wire += len(data)
                client.receive_data(data or None)
                for event in client.events():
                    if isinstance(event, AcceptConnection):
                        assert event.extensions and event.extensions[0].name == "permessage-deflate"
                    elif isinstance(event, CloseConnection):
                        await stream.send_all(client.send(event.response()))
                        data = b""
                    elif hasattr(event, "data"):
                        text += event.data
                        if event.message_finished:
                            received.append(text)
                            text = ""
                if not data:
                    break
        await stream.aclose()
    assert results == [False]
    assert received == FRAMES
    assert wire < 500 + sum(len(frame.encode()) for frame in FRAMES) // 4  # compressed
