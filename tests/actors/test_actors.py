"""The actor runtime's contract: ordering, crashes and restarts, budget escalation,
backpressure, passivation (and its race with senders), shutdown, and scale.

Most tests run on trio's autojump MockClock, so a wait for a timeout shows up as elapsed
virtual time: "answered at once" is then a real assertion, and the suite stays fast.
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

import pytest
import trio
import trio.testing

from actors import (
    ActorCrashed,
    ActorError,
    AskTimeout,
    Behaviour,
    MailboxFull,
    RegistryClosed,
    Registry,
    RestartBudgetExceeded,
    RestartPolicy,
)


class Fatal(BaseException):
    """Not an Exception: the runtime must let it through rather than restart."""


@dataclass
class Log:
    """What every behaviour of every probe did; it outlives the behaviours it watches."""

    failing_starts: int = 0
    failing_stops: bool = False
    stop_delay: float = 0.0
    starts: Counter[Hashable] = field(default_factory=Counter)
    stops: Counter[Hashable] = field(default_factory=Counter)
    active: Counter[Hashable] = field(default_factory=Counter)
    max_active: int = 0
    busy: int = 0
    max_busy: int = 0
    cancelled: int = 0
    handled: list[object] = field(default_factory=list)
    crashes: list[tuple[Hashable, Exception]] = field(default_factory=list)

    def factory(self, key: Hashable) -> Behaviour:
        return Probe(key, self)

    def on_crash(self, key: Hashable, exc: Exception) -> None:
        self.crashes.append((key, exc))


class Probe:
    """A behaviour steered by its messages, recording everything in a shared `Log`."""

    def __init__(self, key: Hashable, log: Log) -> None:
        self.key = key
        self.log = log
        self.state: list[object] = []

    async def start(self) -> None:
        await trio.lowlevel.checkpoint()
        if self.log.failing_starts:
            self.log.failing_starts -= 1
            raise OSError("database unreachable")
        self.log.starts[self.key] += 1
        self.log.active[self.key] += 1
        self.log.max_active = max(self.log.max_active, self.log.active[self.key])

    async def receive(self, message: object) -> object:
        self.log.busy += 1
        self.log.max_busy = max(self.log.max_busy, self.log.busy)
        try:
            return await self._handle(message)
        except trio.Cancelled:
            self.log.cancelled += 1
            raise
        finally:
            self.log.busy -= 1

    async def _handle(self, message: object) -> object:
        await trio.lowlevel.checkpoint()  # room for a second message to overlap, were it possible
        match message:
            case "boom":
                raise ValueError("boom")
            case "fatal":
                raise Fatal
            case "state":
                return list(self.state), self.log.starts[self.key]
            case ("wait", trio.Event() as gate):
                await gate.wait()
            case "cancelled into an error":
                try:
                    await trio.sleep_forever()
                except trio.Cancelled as exc:  # as a database driver might
                    raise ConnectionError("query cancelled") from exc
            case ("cancel", trio.CancelScope() as scope):
                scope.cancel()
                await trio.lowlevel.checkpoint()
        self.state.append(message)
        self.log.handled.append(message)
        return message

    async def stop(self) -> None:
        await trio.sleep(self.log.stop_delay)
        self.log.stops[self.key] += 1
        self.log.active[self.key] -= 1
        if self.log.failing_stops:
            raise RuntimeError("could not flush")


class Echo:
    """The smallest behaviour: what the scale test multiplies by ten thousand."""

    def __init__(self, key: Hashable) -> None:
        self.key = key

    async def start(self) -> None:
        pass

    async def receive(self, message: object) -> object:
        return message

    async def stop(self) -> None:
        pass


def count_tasks() -> int:
    """Every task in the run, found by walking the task tree from the root."""

    def below(task: trio.lowlevel.Task) -> int:
        return 1 + sum(below(child) for n in task.child_nurseries for child in n.child_tasks)

    root = trio.lowlevel.current_root_task()
    assert root is not None
    return below(root)


Send = Callable[[Hashable, object], Awaitable[object]]
"""`registry.tell` or `registry.ask`."""


async def record(outcomes: list[object], send: Send, key: Hashable, message: object) -> None:
    """Send one message, keeping the result or the ActorError in `outcomes`."""
    try:
        outcomes.append(await send(key, message))
    except ActorError as exc:
        outcomes.append(exc)


async def state_of(registry: Registry, key: Hashable) -> tuple[list[object], int]:
    """A probe's state, and how many times its key was started, as its actor sees them."""
    reply = await registry.ask(key, "state")
    assert isinstance(reply, tuple)
    state, starts = reply
    return state, starts


def test_errors_share_one_root() -> None:
    for error in (ActorCrashed, AskTimeout, MailboxFull, RestartBudgetExceeded, RegistryClosed):
        assert issubclass(error, ActorError)
    assert issubclass(ActorError, Exception)
    assert not issubclass(ActorError, trio.TooSlowError)


async def test_messages_are_handled_in_order_and_one_at_a_time() -> None:
    log = Log()
    async with Registry.open(log.factory, mailbox_size=4) as registry:
        for i in range(40):
            await registry.tell("k", i)
        async with trio.open_nursery() as nursery:
            for i in range(40, 60):
                nursery.start_soon(registry.ask, "k", i)
        state, _ = await state_of(registry, "k")
    assert state[:40] == list(range(40))  # one sender: its order holds
    assert len(state) == 60 and set(state[40:]) == set(range(40, 60))  # concurrent askers
    assert log.max_busy == 1


async def test_crash_answers_the_asker_at_once_and_restarts_fresh(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    gate = trio.Event()
    outcomes: list[object] = []
    async with Registry.open(log.factory, on_crash=log.on_crash) as registry:
        await registry.ask("k", "before")
        await registry.tell("k", ("wait", gate))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(record, outcomes, registry.ask, "k", "boom")
            await trio.testing.wait_all_tasks_blocked()
            await registry.tell("k", "queued behind the crash")
            asked_at = trio.current_time()
            gate.set()
        elapsed = trio.current_time() - asked_at
        state, starts = await state_of(registry, "k")

    assert elapsed < 0.1  # a reply waiting for the ask's 5 s timeout would show here
    [crashed] = outcomes
    assert isinstance(crashed, ActorCrashed)
    assert crashed.key == "k"
    assert isinstance(crashed.__cause__, ValueError)
    assert [(key, type(exc)) for key, exc in log.crashes] == [("k", ValueError)]
    assert starts == 2
    assert state == ["queued behind the crash"]  # a fresh behaviour, but the mailbox survived
    assert log.stops["k"] == 2  # the crashed behaviour was stopped too, then the last one


async def test_a_failing_start_is_a_crash_and_the_message_waits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log(failing_starts=2)
    async with Registry.open(log.factory, on_crash=log.on_crash) as registry:
        assert await registry.ask("k", "hello") == "hello"
    assert [type(exc) for _, exc in log.crashes] == [OSError, OSError]
    assert log.starts["k"] == 1
    assert log.stops["k"] == 1


async def test_ask_timeout_is_an_actor_error_without_trio_context(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    async with Registry.open(log.factory) as registry:
        asked_at = trio.current_time()
        with pytest.raises(AskTimeout) as info:
            await registry.ask("k", ("wait", trio.Event()), timeout=2.0)
        assert trio.current_time() - asked_at == pytest.approx(2.0)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


async def test_restart_budget_exceeded_escalates_and_answers_every_asker(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    outcomes: list[object] = []
    policy = RestartPolicy(intensity=2, period=10.0)
    async with trio.open_nursery() as outside:
        with pytest.raises(RestartBudgetExceeded) as info:
            async with Registry.open(log.factory, policy=policy, mailbox_size=1) as registry:
                await registry.tell("busy", ("wait", trio.Event()))  # in flight, never done
                for message in ("queued", "blocked on the full mailbox"):
                    outside.start_soon(record, outcomes, registry.ask, "busy", message)
                    await trio.testing.wait_all_tasks_blocked()
                crashed_at = trio.current_time()
                for key in range(3):
                    with pytest.raises(ActorCrashed):
                        await registry.ask(key, "boom")
                await trio.sleep(1.0)
                pytest.fail("three crashes within the period should have escalated")
        escalated_after = trio.current_time() - crashed_at
    assert escalated_after < 0.1
    assert isinstance(info.value.__cause__, ValueError)
    assert len(outcomes) == 2
    for outcome in outcomes:
        assert isinstance(outcome, RegistryClosed)
        assert outcome.__cause__ is info.value
    assert log.stops["busy"] == 1


async def test_crashes_spread_out_stay_within_the_budget(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    async with Registry.open(log.factory, policy=RestartPolicy(1, 1.0)) as registry:
        for _ in range(5):
            with pytest.raises(ActorCrashed):
                await registry.ask("k", "boom")
            await trio.sleep(1.5)
        assert await registry.ask("k", "still here") == "still here"


async def test_full_mailbox_blocks_tell_and_tell_nowait_raises(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    gate = trio.Event()
    async with Registry.open(log.factory, mailbox_size=2) as registry:
        await registry.tell("k", ("wait", gate))
        await trio.testing.wait_all_tasks_blocked()  # the actor took it: two slots are free
        registry.tell_nowait("k", 1)
        registry.tell_nowait("k", 2)
        with pytest.raises(MailboxFull):
            registry.tell_nowait("k", "no room")
        with trio.move_on_after(1.0) as waited:
            await registry.tell("k", "no room")
        assert waited.cancelled_caught
        with pytest.raises(AskTimeout):  # the ask's timeout covers waiting for room
            await registry.ask("k", "no room", timeout=1.0)
        gate.set()
        await registry.tell("k", 3)
        state, _ = await state_of(registry, "k")
    assert state == [("wait", gate), 1, 2, 3]


async def test_idle_actor_passivates_and_respawns_with_rebuilt_state(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    async with Registry.open(log.factory, idle_timeout=10.0) as registry:
        await registry.tell("k", "first life")
        await trio.sleep(9.0)
        assert registry.live_count == 1
        await trio.sleep(2.0)
        assert registry.live_count == 0
        assert log.stops["k"] == 1
        assert await state_of(registry, "k") == ([], 2)
        await registry.tell("k", "queued before stop")
        await registry.stop("k")
        assert log.stops["k"] == 2
        assert log.handled[-1] == "queued before stop"
        assert registry.live_count == 0


async def test_a_failing_or_hanging_stop_is_reported_or_cut_short(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log(failing_stops=True)
    async with Registry.open(log.factory, on_crash=log.on_crash) as registry:
        await registry.tell("k", "hello")
        await registry.stop("k")
        assert [(key, type(exc)) for key, exc in log.crashes] == [("k", RuntimeError)]
        assert await state_of(registry, "k") == ([], 2)  # a new incarnation, not a restart

    hanging = Log(stop_delay=3600.0)
    async with Registry.open(hanging.factory, stop_timeout=2.0) as registry:
        await registry.ask("k", "hello")
        closed_at = trio.current_time()
    assert trio.current_time() - closed_at == pytest.approx(2.0)
    assert hanging.stops["k"] == 0


async def test_passivation_racing_senders_loses_no_message(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log(stop_delay=0.5)  # a slow stop() widens the window for a racing sender
    delivered: list[object] = []
    sent = 0
    async with Registry.open(log.factory, idle_timeout=1.0) as registry:
        # Trio runs tasks woken at the same instant in random order, so the grid repeats.
        grid = [(o, c) for o in (-1e-6, 0.0, 1e-6, 0.25, 0.75) for c in range(6)] * 4
        for offset, checkpoints in grid:
            for how in ("tell", "ask", "stop", "tell_nowait"):
                await registry.ask("k", "sync")
                await trio.sleep_until(trio.current_time() + 1.0 + offset)
                for _ in range(checkpoints):
                    await trio.lowlevel.checkpoint()
                if how == "stop":
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(registry.stop, "k")
                        nursery.start_soon(registry.tell, "k", sent)
                elif how == "ask":
                    delivered.append(await registry.ask("k", sent))
                elif how == "tell":
                    await registry.tell("k", sent)
                else:
                    registry.tell_nowait("k", sent)
                sent += 1
        await trio.sleep(5.0)
        assert registry.live_count == 0
    assert [m for m in log.handled if m != "sync"] == list(range(sent))
    assert delivered == [m for m in range(sent) if m % 4 == 1]
    assert log.starts["k"] > sent // 2  # the race really was run, many times over
    assert log.starts == log.stops
    assert log.max_active == 1  # never two incarnations of one key at once


@pytest.mark.parametrize("how", ["leave the block", "cancel the enclosing scope"])
async def test_shutdown_stops_every_actor_and_answers_askers(
    how: str, autojump_clock: trio.testing.MockClock
) -> None:
    log = Log(stop_delay=0.5)  # stop() awaits: it must be shielded from the shutdown
    outcomes: list[object] = []
    baseline = count_tasks()
    async with trio.open_nursery() as outside:
        with trio.CancelScope() as scope:
            opened = Registry.open(log.factory, on_crash=log.on_crash, mailbox_size=1)
            async with opened as registry:
                for key in range(4):
                    await registry.tell(key, ("wait", trio.Event()))
                senders: list[tuple[Send, Hashable, object]] = [
                    (registry.ask, 4, ("wait", trio.Event())),  # in flight
                    (registry.ask, 0, "queued"),
                    (registry.tell, 0, "blocked on the full mailbox"),
                ]
                for send, target, message in senders:
                    outside.start_soon(record, outcomes, send, target, message)
                    await trio.testing.wait_all_tasks_blocked()
                assert count_tasks() == baseline + 5 + 3  # the actors and the outside senders
                if how == "cancel the enclosing scope":
                    scope.cancel()
                    await trio.sleep_forever()
        assert scope.cancelled_caught == (how == "cancel the enclosing scope")
    assert count_tasks() == baseline
    assert [type(outcome) for outcome in outcomes] == [RegistryClosed] * 3
    assert log.stops == log.starts == Counter(range(5))
    assert log.cancelled == 5
    assert log.crashes == []
    with pytest.raises(RegistryClosed):
        await registry.tell(0, "too late")


async def test_cancelled_raised_in_receive_propagates_and_is_no_crash() -> None:
    log = Log()
    with trio.CancelScope() as scope:
        async with Registry.open(log.factory, on_crash=log.on_crash) as registry:
            await registry.tell("k", ("cancel", scope))
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert log.cancelled == 1
    assert log.crashes == []
    assert log.starts["k"] == 1


async def test_errors_raised_by_shutdown_itself_do_not_escalate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log = Log()
    policy = RestartPolicy(intensity=0)
    async with Registry.open(log.factory, policy=policy, on_crash=log.on_crash) as registry:
        for key in range(3):
            await registry.tell(key, "cancelled into an error")
        await trio.testing.wait_all_tasks_blocked()
    assert [type(exc) for _, exc in log.crashes] == [ConnectionError] * 3  # reported,
    assert log.starts == Counter(range(3))  # but not restarted


async def test_base_exceptions_pass_through_unwrapped() -> None:
    log = Log()
    with pytest.raises(Fatal):
        async with Registry.open(log.factory, on_crash=log.on_crash) as registry:
            await registry.tell("k", "fatal")
            await trio.sleep_forever()
    assert log.crashes == []
    assert log.starts["k"] == 1
    with pytest.raises(KeyError):  # the block's own errors come out as they went in
        async with Registry.open(log.factory):
            raise KeyError("mine")


async def test_an_idle_actor_does_not_pin_its_last_message() -> None:
    class Payload:
        pass

    message = Payload()
    gone = weakref.ref(message)
    async with Registry.open(Echo) as registry:
        assert await registry.ask("k", message) is message
        del message
        assert registry.live_count == 1
        assert gone() is None


async def test_ten_thousand_actors_spawn_answer_and_passivate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    count = 10_000
    baseline = count_tasks()
    async with Registry.open(Echo, idle_timeout=1.0) as registry:
        # A warm-up rush first: hash tables that once held 10,000 entries keep that size
        # (trio's task sets, the registry's dict: ~1.5 MB, reused by the next rush), which
        # is a high-water mark, not a leak. What the measured round takes, it must give back.
        for key in range(count):
            registry.tell_nowait(key, key)
        await trio.sleep(2.0)
        gc.collect()
        tracemalloc.start()
        try:
            replies = [await registry.ask(key, key) for key in range(count)]
            assert replies == list(range(count))
            assert registry.live_count == count
            assert count_tasks() == baseline + count
            held, _ = tracemalloc.get_traced_memory()
            await trio.sleep(2.0)
            assert registry.live_count == 0
            assert count_tasks() == baseline
            gc.collect()
            left, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert held > 20_000_000  # the live actors really were measured
    assert left < 1_000_000
