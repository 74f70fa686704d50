"""What simulated terminals send: command mixes as data.

A mix is a table of actions, each a command name, a relative weight and a factory for its
args. A write also says how to recognise the event it causes (`Fanout`), so the load tool can
time that event's arrival at every terminal: the args carry a unique marker and the event's
data echoes it. Orders will join as new tables (open, add items, send…) beside `VENUE`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Sequence

__all__ = ["Action", "Fanout", "MIXES", "pick"]

Args = dict[str, Any]


@dataclass(frozen=True)
class Fanout:
    """How to find the event a write causes: its name, and the marker in the args and in the
    event's data (a write without a recognisable event has no Fanout)."""

    event: str
    marker_in_args: Callable[[Args], str | None]
    marker_in_event: Callable[[Args], str | None]


@dataclass(frozen=True)
class Action:
    """One kind of command in a mix."""

    name: str
    weight: float
    make_args: Callable[[random.Random], Args]
    fanout: Fanout | None = None


def pick(mix: Sequence[Action], rng: random.Random) -> Action:
    """One action, chosen by weight."""
    return rng.choices(mix, weights=[a.weight for a in mix])[0]


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

MIXES: dict[str, tuple[Action, ...]] = {"venue": VENUE}
