"""A TCP proxy to PostgreSQL that counts how often a client waited for an answer: what the
benchmark's round-trip counts and the pipelining tests measure."""

from __future__ import annotations

import queue
import socket
import threading
import time

import psycopg


class TurnProxy:
    """A TCP proxy to PostgreSQL that holds each answer for `delay` seconds and counts turns:
    how many times a client sent something after an answer had reached it, that is, how many
    times it had waited. Statements sent without waiting count once together."""

    def __init__(self, target: tuple[str, int], delay: float = 0.0) -> None:
        self.delay = delay
        self.turns = 0
        self._target = target
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self._listener.accept()
            server = socket.create_connection(self._target)
            answered = [False]  # has an answer reached this client since it last sent?
            for src, dst, up in ((client, server, True), (server, client, False)):
                chunks: queue.Queue[tuple[float, bytes]] = queue.Queue()
                threading.Thread(target=self._read, args=(src, chunks, up, answered), daemon=True).start()
                threading.Thread(target=self._write, args=(dst, chunks, up, answered), daemon=True).start()

    def _read(self, sock: socket.socket, chunks: queue.Queue[tuple[float, bytes]], up: bool,
              answered: list[bool]) -> None:
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            if up and data:
                with self._lock:
                    if answered[0]:
                        self.turns += 1
                    answered[0] = False
            chunks.put((time.monotonic() + (0.0 if up else self.delay), data))
            if not data:
                return

    def _write(self, sock: socket.socket, chunks: queue.Queue[tuple[float, bytes]], up: bool,
               answered: list[bool]) -> None:
        while True:
            due, data = chunks.get()
            if not data:
                sock.close()
                return
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                sock.sendall(data)
            except OSError:
                return
            if not up:
                with self._lock:
                    answered[0] = True


def through(url: str, port: int) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info.update(host="127.0.0.1", port=str(port))
    return psycopg.conninfo.make_conninfo(**info)
