"""The dinner mix: every terminal plays a server on a busy evening.

A server keeps `ORDERS_AT_ONCE` orders going (up to `MAX_ORDERS` while replies are slow). Each
order is a lane (sim/steps.py), a script whose commands go one after the other:

    order.open          a table from the server's own section, or a takeaway: a share of
                        orders (`takeaway_share`, 15%) and every order once the section is full
    order.add_item ×n   drinks and starters as course 1, mains and sides as course 2, each with
                        valid modifier choices; a takeaway has everything in course 1
    order.send          course 1 goes to the kitchen and bar; course 2 is held
    order.apply_discount  now and then, at most 10% (the venue's default limit: no manager)
    order.fire_course 2
    (half the tables)   desserts and coffee as course 3, order.send, order.fire_course 3
    order.print_bill
    payment.cash / card_start / qr_start, then order.complete   (sim/paying.py: the guests pay
                        what the bill shows as due, by cash, card or QR, and the order closes)

and then the server starts another. A table is the server's again once its order is complete.

Business outcomes are avoided by design rather than counted as errors: the tables of
`floor.get` are dealt out between the terminals (terminal i gets every count-th one), and a
table goes back to its server only when its order is complete (an order abandoned half way
keeps its table for the rest of the run). Should a table still be taken (another simulator,
orders left from an earlier run), `table_occupied` is recorded in `outcomes` and the server
tries its next table (a takeaway once none is left). Writes carry `expected_version` from the
previous reply: only this lane writes the order, so it is never stale. An order whose command
fails (counted by the runner) is abandoned.

Modifiers come from `menu.get`, read once: for each group of an item, between its min and max
of the group's available options. Items that cannot be ordered (unavailable, a group with fewer
available options than its minimum) are left out.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generator

from sim.paying import Customers, Payments
from sim.steps import Frame, Marker, Step, order_marker

if TYPE_CHECKING:
    from sim.client import TerminalClient

__all__ = ["DinnerMix", "Menu", "MenuItem"]

ORDERS_AT_ONCE = 2
MAX_ORDERS = 4
TAKEAWAY_SHARE = 0.15
DISCOUNT_SHARE = 0.3
DESSERT_SHARE = 0.5
ORDER_EVENTS = ("order.opened", "order.updated", "order.sent", "order.course_fired", "order.completed")

Script = Generator[Step, "Frame | None", None]


def _new_id() -> str:
    return str(uuid.uuid4())


def bill_marker(data: Any) -> str | None:
    """A bill's print job id: in `order.print_bill`'s result and its `job.queued` event."""
    if not isinstance(data, dict) or "job_id" not in data or data.get("kind", "bill") != "bill":
        return None
    return str(data["job_id"])


@dataclass(frozen=True)
class MenuItem:
    id: str
    name: str
    groups: tuple[tuple[int, int, tuple[str, ...]], ...]  # (min, max, available option ids)

    def choices(self, rng: random.Random) -> list[str]:
        """Valid modifier option ids: the minimum of each group most of the time, else more."""
        chosen: list[str] = []
        for lo, hi, options in self.groups:
            count = lo if rng.random() < 0.6 else rng.randint(lo, hi)
            chosen += rng.sample(options, count)
        return chosen


def _kind(category: dict[str, Any]) -> str:
    """drink, starter, main, side or dessert, from the category's station and name."""
    name, station = str(category.get("name", "")).lower(), category.get("station")
    if station == "bar":
        return "drink"
    if station != "kitchen":
        return "other"
    return next((kind for word, kind in (("starter", "starter"), ("side", "side"), ("dessert", "dessert"))
                 if word in name), "main")


class Menu:
    """The orderable items of `menu.get`, by kind."""

    def __init__(self, menu: dict[str, Any]) -> None:
        kinds = {c["id"]: _kind(c) for c in menu.get("categories", [])}
        groups = {}
        for g in menu.get("modifier_groups", []):
            options = tuple(o["id"] for o in g.get("options", []) if o.get("available", True))
            groups[g["id"]] = (int(g["min_choices"]), min(int(g["max_choices"]), len(options)), options)
        self.by_kind: dict[str, list[MenuItem]] = {}
        for item in menu.get("items", []):
            item_groups = tuple(groups[g] for g in item.get("modifier_group_ids", []) if g in groups)
            if not item.get("available", True) or any(lo > hi for lo, hi, _ in item_groups):
                continue
            kind = kinds.get(item.get("category_id"), "other")
            self.by_kind.setdefault(kind, []).append(MenuItem(item["id"], item["name"], item_groups))

    def pick(self, kind: str, rng: random.Random) -> MenuItem | None:
        items = self.by_kind.get(kind)
        return rng.choice(items) if items else None


class _Abandon(Exception):
    """A command of the script failed: the order is left as it is."""


class _ScriptLane:
    """A lane driven by a generator script: it yields steps and is sent their replies."""

    def __init__(self, script: Script) -> None:
        self._script = script
        self._next: Step | None = next(script, None)
        self.busy = False

    @property
    def finished(self) -> bool:
        return self._next is None and not self.busy

    def step(self) -> Step:
        assert self._next is not None and not self.busy
        self.busy = True
        return self._next

    def done(self, reply: Frame | None) -> None:
        self.busy = False
        try:
            self._next = self._script.send(reply)
        except StopIteration:
            self._next = None


class _Server:
    """One terminal's server: a few orders in progress, a section of tables."""

    def __init__(self, mix: DinnerMix, tables: list[tuple[str, int]]) -> None:
        self._mix = mix
        self._tables = tables  # (table id, seats), used from the end
        self._lanes: list[_ScriptLane] = []

    def lane(self, rng: random.Random) -> _ScriptLane | None:
        self._lanes = [lane for lane in self._lanes if not lane.finished]
        idle = [lane for lane in self._lanes if not lane.busy]
        if len(self._lanes) < ORDERS_AT_ONCE or (not idle and len(self._lanes) < MAX_ORDERS):
            lane = _ScriptLane(self._order(random.Random(rng.getrandbits(64))))
            if lane.finished:
                return None
            self._lanes.append(lane)
            return lane
        return rng.choice(idle) if idle else None

    def _order(self, rng: random.Random) -> Script:
        try:
            view, table = yield from self._open(rng)
            for step in self._first_round(view, rng):
                view = yield from self._call(step, view)
            view = yield from self._call(Step("order.send", {}), view)
            if rng.random() < DISCOUNT_SHARE:
                view = yield from self._discount(view, rng)
            view = yield from self._fire(view, 2)
            if view["kind"] == "dine_in" and rng.random() < DESSERT_SHARE:
                for step in self._dessert_round(view, rng):
                    view = yield from self._call(step, view)
                if any(ln["state"] == "unsent" for ln in view["lines"]):
                    view = yield from self._call(Step("order.send", {}), view)
                view = yield from self._fire(view, 3)
            view = yield from self._call(Step("order.print_bill", {}, bill_marker), view)
        except _Abandon:
            return
        closed = yield from self._mix.payments.settle(view, rng)
        if closed and table is not None:
            self._tables.insert(0, table)  # laid again, and last in line for the next guests

    def _call(self, step: Step, view: dict[str, Any]) -> Generator[Step, Frame | None, dict[str, Any]]:
        """Send `step` on this order (its id and expected version added); the order after it."""
        args = {"order_id": view["order_id"], "expected_version": view["version"], **step.args}
        reply = yield Step(step.name, args, step.marker or order_marker)
        if not reply or not reply.get("ok"):
            raise _Abandon
        result = reply["result"]
        return result["order"] if step.name == "order.print_bill" else result

    def _open(self, rng: random.Random) -> Generator[Step, Frame | None, tuple[dict[str, Any], tuple[str, int] | None]]:
        """The order opened, and the table it took (None: a takeaway)."""
        takeaway = rng.random() < self._mix.takeaway_share
        while True:
            table = self._tables.pop() if self._tables and not takeaway else None
            args: dict[str, Any] = {"order_id": _new_id(), "kind": "takeaway"}
            if table is not None:
                args.update(kind="dine_in", table=table[0], covers=rng.randint(1, max(1, min(table[1], 6))))
            reply = yield Step("order.open", args, order_marker)
            if reply and reply.get("ok"):
                return reply["result"], table
            error = (reply or {}).get("error") or {}
            if table is not None and (error.get("details") or {}).get("reason") == "table_occupied":
                self._mix.outcomes["table_occupied"] += 1  # someone else's table: try the next
                continue
            raise _Abandon

    def _add(self, kind: str, course: int, rng: random.Random, seats: int) -> Step | None:
        item = self._mix.menu.pick(kind, rng)
        if item is None:
            return None
        args: dict[str, Any] = {"line_id": _new_id(), "item_id": item.id, "course": course,
                                "modifier_option_ids": item.choices(rng)}
        if kind == "drink" and rng.random() < 0.3:
            args["quantity"] = 2
        if seats:
            args["seat"] = rng.randint(1, seats)
        if rng.random() < 0.1:
            args["note"] = rng.choice(["no ice", "allergy: nuts", "sauce on the side", "extra hot"])
        return Step("order.add_item", args)

    def _first_round(self, view: dict[str, Any], rng: random.Random) -> list[Step]:
        covers = int(view.get("covers") or 0)
        if view["kind"] != "dine_in":
            wanted = [("main", 1)] * rng.randint(1, 2) + [("side", 1)] * rng.randint(0, 2) + \
                     [("drink", 1)] * rng.randint(0, 1)
        else:
            wanted = [("drink", 1)] * min(covers, 3) + [("main", 2)] * min(covers, 4) + \
                     [("starter", 1)] * min(2, sum(rng.random() < 0.3 for _ in range(covers))) + \
                     [("side", 2)] * rng.randint(0, 2)
        steps = [self._add(kind, course, rng, covers) for kind, course in wanted]
        found = [s for s in steps if s is not None]
        if not found:  # a menu without mains: anything orderable at all
            fallback = next((self._add(k, 1, rng, covers) for k in self._mix.menu.by_kind if k != "other"), None)
            if fallback is None:
                raise _Abandon
            found = [fallback]
        return found

    def _dessert_round(self, view: dict[str, Any], rng: random.Random) -> list[Step]:
        covers = int(view.get("covers") or 1)
        wanted = ["dessert"] * rng.randint(1, min(covers, 3)) + ["drink"] * rng.randint(0, 1)
        return [s for s in (self._add(kind, 3, rng, covers) for kind in wanted) if s is not None]

    def _fire(self, view: dict[str, Any], course: int) -> Generator[Step, Frame | None, dict[str, Any]]:
        """Fire `course` when it has held tickets (the kitchen's own rule decides which are)."""
        if any(t["status"] == "held" and t["course"] <= course for t in view["tickets"]):
            view = yield from self._call(Step("order.fire_course", {"course": course}), view)
        return view

    def _discount(self, view: dict[str, Any], rng: random.Random) -> Generator[Step, Frame | None, dict[str, Any]]:
        lines = [ln for ln in view["lines"] if ln["state"] != "void" and ln["discount"] is None and ln["gross"] >= 10]
        roll = rng.random()
        if roll < 0.25 and view["discount"] is None:
            args: dict[str, Any] = {"kind": "percent", "value": "10.00", "reason": "birthday"}
        elif lines and roll < 0.75:
            args = {"line_id": rng.choice(lines)["line_id"], "kind": "percent",
                    "value": rng.choice(["5.00", "10.00"]), "reason": "regular"}
        elif lines:
            line = rng.choice(lines)
            args = {"line_id": line["line_id"], "kind": "amount", "value": line["gross"] // 10,
                    "reason": "long wait"}
        else:
            return view
        return (yield from self._call(Step("order.apply_discount", args), view))


def _deal(tables: list[tuple[str, int]], index: int, count: int) -> list[tuple[str, int]]:
    """Terminal `index`'s section: every count-th table, last one first out."""
    return list(reversed(tables[index::count]))


class DinnerMix:
    """Servers working tables and takeaways (see the module's docstring)."""

    def __init__(self, takeaway_share: float = TAKEAWAY_SHARE, customers: Customers | None = None) -> None:
        self.takeaway_share = takeaway_share
        self.payments = Payments(customers)
        self.menu = Menu({})
        self.tables: list[tuple[str, int]] = []
        self._sections: dict[int, list[tuple[str, int]]] = {}  # kept across runs: a used table stays used
        self.outcomes: Counter[str] = Counter()  # business outcomes met (not errors): table_occupied
        self.events: dict[str, Marker] = {name: order_marker for name in ORDER_EVENTS}
        self.events["job.queued"] = bill_marker
        self.events["payment.succeeded"] = self.payments.heard  # no marker: how servers hear a guest paid

    async def prepare(self, client: TerminalClient) -> None:
        """Read the menu and the floor, and open the till (sim/paying.py)."""
        await self.payments.open_till(client)
        self.menu = Menu(await client.command_ok("menu.get"))
        floor = await client.command_ok("floor.get")
        self.tables = [(t["id"], int(t.get("seats") or 2)) for area in floor.get("areas", [])
                       for t in area.get("tables", []) if t.get("active", True)]

    def player(self, index: int, count: int) -> _Server:
        section = self._sections.setdefault(index, _deal(self.tables, index, count))
        return _Server(self, section)
