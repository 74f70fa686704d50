"""A wake-up for one waiting task that is never lost."""

from __future__ import annotations

import trio

__all__ = ["Signal"]


class Signal:
    """``set()`` wakes the task in ``wait()``; a ``set()`` while nobody waits makes the next
    ``wait()`` return at once. Several ``set()``s before a ``wait()`` count as one, which is
    what "there is new work, go and look" needs: the waiter always looks at everything."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout: float = float("inf")) -> bool:
        """Wait for a ``set()`` (True) or for ``timeout`` seconds to pass (False)."""
        with trio.move_on_after(timeout):
            await self._event.wait()
            self._event = trio.Event()
            return True
        return False
