"""Waiting on a blocking device library from Trio without losing cancellation.

pyserial and pyusb only offer blocking reads. A read that blocks for ever in a worker thread
cannot be cancelled (Trio waits for the thread), and abandoning it would leave a thread that
still owns the port and eats the next bytes. So reads run in short slices: each slice
blocks for at most ``POLL`` seconds, and between slices Trio can cancel.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import trio

from ..errors import DeviceTimeout

POLL = 0.1


async def receive_in_slices(read_slice: Callable[[int], bytes], max_bytes: int,
                            timeout: float | None, what: str) -> bytes:
    """Call ``read_slice(max_bytes)`` in a worker thread until it returns bytes.

    ``read_slice`` blocks for at most about ``POLL`` seconds and returns ``b""`` when
    nothing came; it translates its own library's errors.

    Raises:
        DeviceTimeout: nothing arrived within ``timeout`` seconds.
    """
    deadline = math.inf if timeout is None else trio.current_time() + timeout
    while True:
        data = await trio.to_thread.run_sync(read_slice, max_bytes)
        if data:
            return data
        if trio.current_time() >= deadline:
            raise DeviceTimeout(f"{what}: nothing received within {timeout}s")
