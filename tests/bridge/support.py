"""Helpers for the bridge tests: a config for simulated printers, a bridge to start and kill,
a transport that fails mid-job, and waiting for what printers print."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from bridge.app import Bridge
from bridge.config import BridgeConfig, parse_config
from bridge.dispatcher import PrinterPort
from devices import DeviceOffline, Transport
from devices.sim import PrinterSimulator

# Short everything, so a suite of outages and restarts runs in seconds.
FAST_TIMING = """
[timing]
reconnect_min = 0.05
reconnect_max = 0.5
retry_min = 0.05
retry_max = 0.2
failover_after = 0.6
print_timeout = 2.0
stop_grace = 0.3
"""


def bridge_toml(server: str, token: str, spool: Path, ports: Mapping[str, int], *,
                backup: Mapping[str, str] | None = None, stations: Mapping[str, list[str]] | None = None,
                extra: str = "") -> str:
    """A config with one TCP printer per simulator (named as in ``ports``)."""
    default = {"kitchen": ["kitchen"], "bar": ["bar"], "receipt": ["receipt"]}
    text = f'server = "{server}"\ntoken = "{token}"\nspool = "{spool}"\n{FAST_TIMING}\n'
    for name, port in ports.items():
        text += (f'[[printers]]\nname = "{name}"\nstations = {(stations or default).get(name, [])!r}\n'
                 f'transport = "tcp://127.0.0.1:{port}"\nstatus_poll = 0.2\n'.replace("'", '"'))
        if backup and name in backup:
            text += f'backup = "{backup[name]}"\n'
    return text + extra


def config_for(*args: object, **kwargs: object) -> BridgeConfig:
    return parse_config(bridge_toml(*args, **kwargs))  # type: ignore[arg-type]


@asynccontextmanager
async def running(config: BridgeConfig, printers: Mapping[str, PrinterPort] | None = None,
                  scanners: Mapping[str, Transport] | None = None) -> AsyncIterator[Bridge]:
    """A bridge for the duration of the block; leaving the block kills it (cancels it)."""
    async with trio.open_nursery() as nursery:
        bridge = await nursery.start(Bridge(config, printers=printers, scanners=scanners).run)
        yield bridge
        nursery.cancel_scope.cancel()


async def until(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Wait for ``check()`` to hold, polling; fail the test with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await trio.sleep(0.02)


class FaultyTransport:
    """A transport that lets ``after`` bytes of the next job through and then fails: hangs for
    ever (``hang``: the printer wedged mid-job) or loses power (the simulator goes offline and
    the send raises DeviceOffline, as a reset mid-job does). Status queries pass untouched."""

    def __init__(self, inner: Transport, sim: PrinterSimulator, *, after: int, hang: bool) -> None:
        self.inner, self.sim, self.after, self.hang = inner, sim, after, hang
        self.armed = True

    async def open(self) -> None:
        await self.inner.open()

    async def send(self, data: bytes) -> None:
        if not self.armed or len(data) <= 16:
            await self.inner.send(data)
            return
        self.armed = False
        await self.inner.send(data[: self.after])
        if self.hang:
            await trio.sleep_forever()
        self.sim.power_cycle()
        self.sim.offline = True
        raise DeviceOffline("the printer lost power mid-job")

    async def receive(self, max_bytes: int, timeout: float | None) -> bytes:
        return await self.inner.receive(max_bytes, timeout)

    async def close(self) -> None:
        await self.inner.close()
