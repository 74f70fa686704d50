"""Run one simulated device on its own: ``python -m devices.sim printer --port 9100 ...``.

printer         an ESC/POS network printer; jobs go to --output (var/printers/<device>.txt)
serial-printer  the same on a pseudo-terminal; prints the device path to open
scanner         a serial scanner on socket://host:port; scans each line typed on stdin,
                or --codes A,B,... one every --every seconds

The demo starts several of these; a line per printed job goes to stdout.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from functools import partial

import trio

from .printer import PrinterSimulator
from .scanner import ScannerSimulator
from .serial_printer import SerialPrinterSimulator


def _log_job(name: str) -> Callable[[str], None]:
    def log(text: str) -> None:
        first = next((line for line in text.splitlines() if line.strip()), "")
        print(f"[{name}] printed {len(text.splitlines())} lines: {first.strip()[:40]}", flush=True)
    return log


async def _printer(args: argparse.Namespace) -> None:
    sim = PrinterSimulator(output_path=args.output, on_job=_log_job(args.name))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(sim.serve, args.host, args.port)
        print(f"[{args.name}] ESC/POS printer listening on {args.host}:{port}", flush=True)


async def _serial_printer(args: argparse.Namespace) -> None:
    sim = SerialPrinterSimulator(output_path=args.output, on_job=_log_job(args.name))
    async with trio.open_nursery() as nursery:
        path = await nursery.start(sim.serve)
        print(f"[{args.name}] serial printer on {path}", flush=True)


async def _scanner(args: argparse.Namespace) -> None:
    sim = ScannerSimulator()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(sim.serve, args.host, args.port)
        print(f"[{args.name}] scanner on socket://{args.host}:{port}", flush=True)
        if args.codes:
            for code in itertools.cycle(args.codes.split(",")):
                await trio.sleep(args.every)
                await sim.scan(code)
        else:
            read = partial(trio.to_thread.run_sync, sys.stdin.readline, abandon_on_cancel=True)
            while line := await read():
                await sim.scan(line.strip())
            nursery.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devices.sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="device", required=True)
    for name, run in (("printer", _printer), ("serial-printer", _serial_printer),
                      ("scanner", _scanner)):
        sub = commands.add_parser(name)
        sub.set_defaults(run=run)
        sub.add_argument("--name", default=name, help="label for console lines")
        if name != "serial-printer":
            sub.add_argument("--host", default="127.0.0.1")
            sub.add_argument("--port", type=int, default=9100 if name == "printer" else 0)
        if name == "scanner":
            sub.add_argument("--codes", help="comma-separated barcodes to scan in a loop")
            sub.add_argument("--every", type=float, default=5.0, help="seconds between scans")
        else:
            sub.add_argument("--output", help="append each job here, ending '--- cut ---'")
    args = parser.parse_args(argv)
    try:
        trio.run(args.run, args)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
