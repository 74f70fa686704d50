"""The standalone simulator the demo starts: ``python -m devices.sim printer ...``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import trio

from devices import Cut, Printer, TcpTransport, Text


async def read_until(stream: trio.abc.ReceiveStream, pattern: str) -> re.Match[str]:
    seen = ""
    with trio.fail_after(10):
        while not (found := re.search(pattern, seen)):
            seen += (await stream.receive_some(4096)).decode()
    return found


async def test_standalone_printer_writes_jobs_to_its_file(tmp_path: Path) -> None:
    out = tmp_path / "var" / "printers" / "bar.txt"
    command = [sys.executable, "-m", "devices.sim", "printer", "--port", "0", "--name", "bar",
               "--output", str(out)]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        port = int((await read_until(process.stdout, r"listening on [\d.]+:(\d+)")).group(1))
        await Printer(TcpTransport("127.0.0.1", port), 32).print([Text("2 x Negroni"), Cut()])
        await read_until(process.stdout, r"\[bar\] printed 1 lines: 2 x Negroni")
    finally:
        process.kill()
        await process.wait()

    assert out.read_text(encoding="utf-8") == "2 x Negroni\n--- cut ---\n"
