"""``fynlo bridge --server URL --token T --config bridge.toml``: the venue bridge daemon.

Where the settings come from, first found wins: the command line, then the environment
(``FYNLO_BRIDGE_SERVER``, ``FYNLO_BRIDGE_TOKEN``, ``FYNLO_BRIDGE_CONFIG``), then the config
file. Exit codes: 0 after Ctrl-C or SIGTERM, 2 for a config or usage mistake (reported with
its line before anything starts), 1 when the spool is held by another bridge.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import trio

from bridge.app import Bridge
from bridge.config import BridgeConfig, load_config
from bridge.errors import BridgeConfigError, SpoolLocked

__all__ = ["main"]

log = logging.getLogger("fynlo.bridge")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fynlo bridge", description="the Fynlo venue bridge (printers, drawers, "
                                     "scanners)")
    parser.add_argument("--server", help="the server's URL, e.g. https://pos.example.com (or FYNLO_BRIDGE_SERVER)")
    parser.add_argument("--token", help="this bridge's device token, fyb_… (or FYNLO_BRIDGE_TOKEN)")
    parser.add_argument("--config", help="the TOML config (or FYNLO_BRIDGE_CONFIG; default bridge.toml)")
    parser.add_argument("--check", action="store_true", help="check the config, print what it found, and exit")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def settings(args: argparse.Namespace, environ: Mapping[str, str]) -> BridgeConfig:
    """The config file with the command line and environment laid over it.

    Raises:
        BridgeConfigError: the file has mistakes, or no server or token is given anywhere.
    """
    path = Path(args.config or environ.get("FYNLO_BRIDGE_CONFIG") or "bridge.toml")
    config = load_config(path)
    server = args.server or environ.get("FYNLO_BRIDGE_SERVER") or config.server
    token = args.token or environ.get("FYNLO_BRIDGE_TOKEN") or config.token
    problems = []
    if not server:
        problems.append(f"{path}: no server URL: give --server, FYNLO_BRIDGE_SERVER or server = \"https://…\"")
    elif not server.startswith(("http://", "https://", "ws://", "wss://")):
        problems.append(f"--server {server!r} is not an http(s) URL")
    if not token:
        problems.append(f"{path}: no bridge token: give --token, FYNLO_BRIDGE_TOKEN or token = \"fyb_…\"")
    elif not token.startswith("fyb_"):
        problems.append("the token is not a bridge token (fyb_…): POST /api/v1/bridges makes one")
    if problems:
        raise BridgeConfigError(problems)
    return replace(config, server=server, token=token)


def main(argv: list[str]) -> int:
    # `fynlo bridge -- --config x` passes the "--" on (argparse needs it there today).
    args = _parser().parse_args(argv[1:] if argv[:1] == ["--"] else argv)
    # force: python-escpos configures the root logger when it is imported.
    logging.basicConfig(level=args.log_level, stream=sys.stderr, force=True,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    try:
        config = settings(args, os.environ)
    except BridgeConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.check:
        for p in config.printers:
            print(f"printer {p.name}: {', '.join(p.stations) or 'no stations'} on {p.transport.url}, {p.width} mm"
                  + (f", backup {p.backup}" if p.backup else ""))
        for d in config.drawers:
            print(f"drawer {d.name}: pin {d.pin} of {d.printer}")
        for s in config.scanners:
            print(f"scanner {s.name}: {s.transport.url} → terminal {s.terminal_id or '(none)'}")
        return 0
    return trio.run(_run, config)


async def _run(config: BridgeConfig) -> int:
    """Run the bridge until SIGINT or SIGTERM, then stop it cleanly (see ``Bridge.run``)."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            try:
                await nursery.start(Bridge(config).run)
            except SpoolLocked as exc:
                print(f"cannot start: {exc}", file=sys.stderr)
                return 1
            async for signum in signals:
                log.info("%s: stopping", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
