"""The demo's moving parts around the server: simulated printers, a bridge, a few terminals.

Everything speaks the real protocols: the printers are ESC/POS simulators on loopback TCP
ports, the bridge is `fynlo bridge` in its own process with a generated config, and the terminals
are the simulator's staff placing a trickle of orders over WebSockets. What the printers print
goes to var/printers/<printer>.txt, and a line per job to the console.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import trio

PRINTERS = {"kitchen": ["kitchen"], "bar": ["bar"], "receipt": ["receipt"]}
TERMINALS = 3
RATE_PER_TERMINAL = 0.5      # commands a second each: a steady evening, easy to follow on the console
RUN_FOR_S = 12 * 3600.0


def _console(name: str) -> Any:
    def show(text: str) -> None:
        first = next((line for line in text.splitlines() if line.strip()), "")
        print(f"[printer {name}] printed {len(text.splitlines())} lines: {first[:60]}", flush=True)

    return show


async def start_printers(nursery: trio.Nursery, folder: Path) -> dict[str, int]:
    """One ESC/POS printer simulator per station; returns name -> port."""
    from devices.sim import PrinterSimulator

    folder.mkdir(parents=True, exist_ok=True)
    ports = {}
    for name in PRINTERS:
        sim = PrinterSimulator(output_path=folder / f"{name}.txt", on_job=_console(name))
        ports[name] = await nursery.start(sim.serve, "127.0.0.1", 0)
    return ports


async def start_scanner(nursery: trio.Nursery) -> Any:
    """The bar's barcode scanner (serial over TCP, as pyserial's socket:// reaches it)."""
    from devices.sim import ScannerSimulator

    scanner = ScannerSimulator()
    await nursery.start(scanner.serve, "127.0.0.1", 0)
    return scanner


async def keep_scanning(scanner: Any) -> None:
    """Now and then the bartender scans a bottle (and once in a while something not on the menu)."""
    from fynlo.demo_menu import BARCODES

    codes = [*BARCODES.values(), "0000000000000"]
    for turn in range(int(RUN_FOR_S // 20)):
        await trio.sleep(20)
        code = codes[turn % len(codes)]
        await scanner.scan(code)
        print(f"[scanner bar] scanned {code}", flush=True)


def bridge_config(var_dir: Path, server: str, ports: dict[str, int], scanner_port: int, terminal_id: str) -> Path:
    """The bridge's TOML for the simulated devices (the same format a venue writes by hand)."""
    lines = [f'server = "{server}"', f'spool = "{(var_dir / "bridge-spool.sqlite3").resolve()}"', ""]
    for name, stations in PRINTERS.items():
        lines += ["[[printers]]", f'name = "{name}"', f"stations = {json.dumps(stations)}",
                  f'transport = "tcp://127.0.0.1:{ports[name]}"', "width = 80", ""]
    lines += ["[[scanners]]", 'name = "bar-scanner"', f'transport = "socket://127.0.0.1:{scanner_port}"',
              f'terminal_id = "{terminal_id}"', ""]
    path = var_dir / "bridge.toml"
    path.write_text("\n".join(lines))
    return path


async def run_bridge(config: Path, token: str) -> None:
    """`fynlo bridge` as its own process, as in a venue; stopped with the demo."""
    await trio.run_process([sys.executable, "-m", "fynlo", "bridge", "--config", str(config), "--token", token],
                           check=False)


async def run_terminals(server: str) -> None:
    """A few servers taking orders: open tables, add dishes with their options, send, bill."""
    from sim.terminals import run_terminals as drive

    await trio.sleep(2)  # let the bridge sign in first, so the first tickets print at once
    await drive(server, count=TERMINALS, duration=RUN_FOR_S, rate=RATE_PER_TERMINAL, mix="dinner")


async def bar_till(server: str, terminal: dict[str, str], pin: str) -> None:
    """The Bar iPad, as the bartender uses it: every bottle scanned at the bar goes on the bar
    tab (an open takeaway order) and is sent; a code not on the menu is said on the console."""
    import uuid

    from sim.client import TerminalClient
    from sim.http import pin_login

    session = await pin_login(server, terminal["terminal_token"], pin)
    scans_in, scans = trio.open_memory_channel[dict[str, Any]](100)

    def on_event(event: dict[str, Any], at: float) -> None:
        if event["name"] == "scan" and event["data"].get("terminal_id") == terminal["terminal_id"]:
            scans_in.send_nowait(event["data"])

    async with TerminalClient.connect(server, session["access_token"], terminal_id=terminal["terminal_id"],
                                      keep_events=False, on_event=on_event) as till:
        tab = str(uuid.uuid4())
        await till.command_ok("order.open", {"order_id": tab, "kind": "takeaway"})
        async for data in scans:
            if data["item"] is None:
                print(f"[bar till] {data['barcode']} is not on the menu", flush=True)
                continue
            await till.command_ok("order.add_item", {"order_id": tab, "line_id": str(uuid.uuid4()),
                                                     "item_id": data["item"]["item_id"]})
            await till.command_ok("order.send", {"order_id": tab})
            print(f"[bar till] rang up {data['item']['name']} on the bar tab", flush=True)
