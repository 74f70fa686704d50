"""An actor's bounded inbox, the envelopes in it, and the handshake that makes passivation safe."""

from __future__ import annotations

from collections.abc import Callable

import trio

from ._errors import ActorError

__all__ = ["Envelope", "Mailbox"]


class Envelope:
    """One message on its way to an actor, plus the asker's reply slot if it was asked.

    A told message has no slot, so answering or failing it costs nothing.
    """

    __slots__ = ("_done", "_error", "_value", "message")

    def __init__(self, message: object, *, asked: bool = False) -> None:
        self.message = message
        self._done = trio.Event() if asked else None
        self._value: object = None
        self._error: ActorError | None = None

    def answer(self, value: object) -> None:
        """Hand `value` to the asker, if anyone asked."""
        if self._done is not None:
            self._value = value
            self._done.set()

    def fail(self, error: ActorError) -> None:
        """Make the asker's `reply()` raise `error`, if anyone asked."""
        if self._done is not None:
            self._error = error
            self._done.set()

    async def reply(self) -> object:
        """Wait for the outcome of an asked message: its value, or its error raised."""
        assert self._done is not None, "only an asked envelope has a reply"
        await self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


class Mailbox:
    """A bounded queue of envelopes, owned by one incarnation of an actor.

    An incarnation is one actor task, from spawn to passivation: restarts happen inside it
    and keep its mailbox; after passivation the key's next message spawns a new one.

    Retiring closes only the *sending* side. From then on every sender is refused (`put`
    returns False) and goes to a fresh incarnation, while whatever got in before, even a
    message that slipped in as the idle timer fired, is still handed to this one. So a
    passivating actor never loses a message, and the sender needs no lock, only a retry.

    `stopped` is set once the owning incarnation is gone; the key's next incarnation waits
    for it, so two incarnations of one actor never run at once.
    """

    __slots__ = ("_receive", "_send", "stopped")

    def __init__(self, size: int) -> None:
        self._send, self._receive = trio.open_memory_channel[Envelope](size)
        self.stopped = trio.Event()

    async def put(self, envelope: Envelope) -> bool:
        """Enqueue, waiting while the mailbox is full (backpressure).

        Returns False, with nothing enqueued, if the mailbox is retired or abandoned.
        """
        try:
            await self._send.send(envelope)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True

    def put_nowait(self, envelope: Envelope) -> bool:
        """Enqueue now, or raise `trio.WouldBlock` when full; False as for `put`."""
        try:
            self._send.send_nowait(envelope)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return False
        return True

    async def next(self, idle_timeout: float) -> Envelope | None:
        """The next envelope, or None once the mailbox is retired and drained.

        Waiting `idle_timeout` seconds for one retires the mailbox; anything that got in
        meanwhile is still returned before the None.
        """
        while True:
            with trio.move_on_after(idle_timeout):
                try:
                    return await self._receive.receive()
                except trio.EndOfChannel:
                    return None
            self.retire()

    def retire(self) -> None:
        """Refuse new envelopes; those already queued will still be handed out."""
        self._send.close()

    def abandon(self, error: Callable[[], ActorError]) -> None:
        """Refuse everything and fail every queued ask with `error()`: the actor is gone.

        A sender blocked on the full mailbox is refused too, and retries (to find the
        registry closed). On a mailbox that was retired and drained this does nothing.
        """
        self._send.close()
        while True:
            try:
                envelope = self._receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            envelope.fail(error())
        self._receive.close()
