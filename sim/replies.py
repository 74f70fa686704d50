"""Matching replies to the commands waiting for them, and timing each round trip.

Each `command()` call registers a one-slot channel under its id before it sends, so a reply
that overtakes the sender's bookkeeping still finds it. Ids map to a FIFO of waiters rather
than one: sending the same id twice is legal (the contract answers each with the first reply),
and idempotency tests do exactly that.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import trio

__all__ = ["CommandTiming", "PendingReplies"]

Frame = dict[str, Any]
Arrival = tuple[Frame, float, float]  # a reply, when it reached this host, when the reader took it


@dataclass(slots=True)
class CommandTiming:
    """When a command left and when its reply came back (`time.perf_counter()` seconds).

    `acked` is when the reply reached this host (the kernel's receive timestamp, sim/websocket.py);
    `read`, when the socket's reader took it off the wire (later by however long the other
    terminals' frames in this process kept the reader waiting); `woken`, when the task that sent
    the command resumed with it. `acked` stays None when no reply came (a timeout, a closed socket): the load
    tool counts those as errors rather than dropping them from the latency figures unnoticed.
    """

    name: str
    id: str
    sent: float
    acked: float | None = None
    read: float | None = None
    woken: float | None = None
    ok: bool | None = None
    code: str | None = None

    @property
    def latency(self) -> float | None:
        return None if self.acked is None else self.acked - self.sent


class PendingReplies:
    """Command ids awaiting a reply, each with the channel its caller is blocked on."""

    def __init__(self) -> None:
        self._waiting: dict[str, deque[trio.MemorySendChannel[Arrival]]] = {}

    def expect(self, command_id: str) -> tuple[trio.MemorySendChannel[Arrival], trio.MemoryReceiveChannel[Arrival]]:
        """Register a waiter for `command_id`; `forget` its send side when done waiting."""
        send, recv = trio.open_memory_channel[Arrival](1)
        self._waiting.setdefault(command_id, deque()).append(send)
        return send, recv

    def forget(self, command_id: str, send: trio.MemorySendChannel[Arrival]) -> None:
        """Stop waiting (answered, timed out or cancelled); a later reply becomes a stray."""
        waiters = self._waiting.get(command_id)
        if waiters is not None and send in waiters:
            waiters.remove(send)
            if not waiters:
                del self._waiting[command_id]

    def deliver(self, reply: Frame, arrived: float, read: float) -> bool:
        """Hand `reply`, which reached this host at `arrived` and was read at `read`, to the
        oldest waiter for its id; False when nobody waits for it."""
        command_id = str(reply.get("id"))
        waiters = self._waiting.get(command_id)
        if not waiters:
            return False
        send = waiters.popleft()
        if not waiters:
            del self._waiting[command_id]
        send.send_nowait((reply, arrived, read))
        return True

    def fail_all(self) -> None:
        """The socket closed: every waiter's receive ends (EndOfChannel) at once."""
        for waiters in self._waiting.values():
            for send in waiters:
                send.close()
        self._waiting.clear()
