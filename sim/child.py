"""Stopping a child process of the simulator (the server, the providers) whatever happened."""

from __future__ import annotations

import trio


async def stop(proc: trio.Process, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; shielded, so a cancelled caller still waits."""
    with trio.CancelScope(shield=True):
        if proc.returncode is None:
            proc.terminate()
            with trio.move_on_after(grace):
                await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
