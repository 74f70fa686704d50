"""What simulated terminals send: the command mixes, by name (`MIXES`).

* `venue`: independent commands chosen by weight (`ActionMix` of `Action`s). Each tick is its
  own one-command lane, so every command goes out on schedule and nothing waits.
* `dinner` (sim/dinner.py): each terminal plays a server working through orders: open, add
  items with modifiers, send, discount, fire the next course, print the bill, take the money
  (in cash here; card and QR need guests who can pay through the providers: sim/paying.py),
  complete the order.

The vocabulary (steps, lanes, players, markers) is explained in sim/steps.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from sim.dinner import DinnerMix
from sim.steps import Lane, Marker, Mix, Player, Step

if TYPE_CHECKING:
    from sim.client import TerminalClient

__all__ = ["MIXES", "Action", "ActionMix", "Fanout", "Lane", "Mix", "Player", "Step", "pick"]

Args = dict[str, Any]
Frame = dict[str, Any]


@dataclass(frozen=True)
class Fanout:
    """How to find the event a write causes: its name, and the marker in the args and in the
    event's data (a write without a recognisable event has no Fanout)."""

    event: str
    marker_in_args: Callable[[Args], str | None]
    marker_in_event: Callable[[Args], str | None]


@dataclass(frozen=True)
class Action:
    """One kind of command in an ActionMix."""

    name: str
    weight: float
    make_args: Callable[[random.Random], Args]
    fanout: Fanout | None = None


def pick(mix: Sequence[Action], rng: random.Random) -> Action:
    """One action, chosen by weight."""
    return rng.choices(mix, weights=[a.weight for a in mix])[0]


class _OneShot:
    def __init__(self, step: Step) -> None:
        self._step = step

    def step(self) -> Step:
        return self._step

    def done(self, reply: Frame | None) -> None:
        pass


class _Picker:
    def __init__(self, actions: Sequence[Action]) -> None:
        self._actions = actions

    def lane(self, rng: random.Random) -> Lane:
        action = pick(self._actions, rng)
        args = action.make_args(rng)
        fanout = action.fanout
        marker = (lambda result: fanout.marker_in_args(args)) if fanout else None
        return _OneShot(Step(action.name, args, marker))


class ActionMix:
    """Independent commands chosen by weight: every tick sends at once, nothing is serialised."""

    def __init__(self, actions: Sequence[Action]) -> None:
        self.actions = tuple(actions)
        self.events: dict[str, Marker] = {a.fanout.event: a.fanout.marker_in_event for a in actions if a.fanout}

    async def prepare(self, client: TerminalClient) -> None:
        pass

    def player(self, index: int, count: int) -> Player:
        return _Picker(self.actions)


def _new_address(rng: random.Random) -> Args:
    # 64 random bits make the address unique within any run, so it marks its own event.
    return {"address": f"{rng.randint(1, 999)} Simulation Road, ref {rng.getrandbits(64):016x}"}


def _address(data: Args) -> str | None:
    value = data.get("address")
    return value if isinstance(value, str) else None


VENUE: tuple[Action, ...] = (
    Action("venue.get", 1.0, lambda rng: {}),
    Action("venue.update", 1.0, _new_address, Fanout("venue.updated", _address, _address)),
)

# name -> a fresh mix for one run (a mix may hold what it learnt in `prepare`)
MIXES: dict[str, Callable[[], Mix]] = {
    "venue": lambda: ActionMix(VENUE),
    "dinner": DinnerMix,
}
