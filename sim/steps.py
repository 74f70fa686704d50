"""The vocabulary of command mixes: steps, lanes, players and mixes (see sim/mix.py).

A *step* is one command to send. A *lane* is a run of steps that must go one at a time, in
order (one order's commands: nothing can be added to an order before it is open); it is busy
while its command is in flight. A *player* is one terminal's behaviour: at each tick of the
terminal's schedule it hands out an idle lane, or None when every lane is busy and it may not
start another. A *mix* is a kind of behaviour shared by the terminals of a run.

A step may also be the world acting rather than a command: `outside` (a guest tapping a card,
approving a payment on their phone). The runner awaits it in the background, off the terminal's
schedule, neither counted nor timed, and hands what it returns to the lane as its reply.

A write's step names the marker of the event it causes (`Step.marker`, read from the ok
result) and the mix says where the same marker sits in that event's data (`Mix.events`), so
the load tool can time the event's arrival at every terminal.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, Protocol

if TYPE_CHECKING:
    from sim.client import TerminalClient

__all__ = ["Lane", "Marker", "Mix", "Player", "Step", "order_marker"]

Frame = dict[str, Any]
Marker = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Step:
    """One command to send; `marker(result)` names the event the write causes (None: none).
    With `outside`, no command: what the world does, awaited instead (module docstring); it
    must not raise, and returns None when it failed."""

    name: str
    args: dict[str, Any]
    marker: Marker | None = None
    outside: Callable[[], Awaitable[Frame | None]] | None = None


def order_marker(view: Any) -> str | None:
    """An order's id and version: the same in a write's reply and in the event it causes."""
    if not isinstance(view, dict) or "order_id" not in view or "version" not in view:
        return None
    return f"{view['order_id']}/{view['version']}"


class Lane(Protocol):
    """Commands sent one at a time, in order."""

    def step(self) -> Step:
        """The next command; the lane is busy until `done`."""

    def done(self, reply: Frame | None) -> None:
        """Its reply came (None: none did: a timeout or a closed socket)."""


class Player(Protocol):
    """One terminal's behaviour."""

    def lane(self, rng: random.Random) -> Lane | None:
        """A lane ready to send now, or None when every lane is busy and no new one may start."""


class Mix(Protocol):
    """A kind of behaviour, shared by every terminal of a run."""

    events: Mapping[str, Marker]  # event name -> how to read the marker from its data

    async def prepare(self, client: TerminalClient) -> None:
        """Read what the players need (the menu, the floor) once, before the load starts."""

    def player(self, index: int, count: int) -> Player:
        """The player for terminal `index` of `count`."""
