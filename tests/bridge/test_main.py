"""``fynlo bridge`` as a process: SIGTERM stops it cleanly; a second bridge on one spool refuses."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import trio

from tests.bridge.support import until

CONFIG = """\
server = "http://127.0.0.1:9"
token = "fyb_unused"
spool = "{spool}"

[[printers]]
name = "everything"
stations = ["kitchen", "bar", "receipt"]
transport = "tcp://127.0.0.1:9"
"""


async def test_sigterm_stops_it_cleanly_and_a_second_bridge_on_the_spool_refuses(tmp_path: Path) -> None:
    config = tmp_path / "bridge.toml"
    config.write_text(CONFIG.format(spool=tmp_path / "spool.sqlite3"))
    command = [sys.executable, "-m", "bridge", "--config", str(config)]
    first = await trio.lowlevel.open_process(command, stderr=subprocess.DEVNULL)
    try:
        await until(lambda: (tmp_path / "spool.sqlite3").exists(), timeout=15, what="the first bridge")
        await trio.sleep(0.3)
        second = await trio.run_process(command, capture_stderr=True, check=False)
        assert second.returncode == 1 and b"in use by another bridge" in second.stderr
        first.send_signal(signal.SIGTERM)
        with trio.fail_after(10):
            assert await first.wait() == 0
    finally:
        if first.returncode is None:
            first.kill()
