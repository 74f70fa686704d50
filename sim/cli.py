"""`fynlo sim …`: the simulators from the command line.

    fynlo sim terminals --count N [--server URL] [--duration S] [--rate R]
                        [--email E --password P | --token T] [--mix venue|dinner] [--seed N] [--json]

The exit status says whether the run was clean: 0 when every command succeeded, every write's
event reached every terminal and no seq was missed or repeated; 1 otherwise; 2 when the
terminals could not get in at all. So a script or CI job can use a run as a check.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from typing import Any

import httpx
import trio

from sim.errors import SimError
from sim.mix import MIXES
from sim.terminals import DEFAULT_SERVER, DEMO_EMAIL, DEMO_PASSWORD, run_terminals

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fynlo sim", description="simulate terminals against a Fynlo server")
    sub = parser.add_subparsers(dest="simulator", required=True)
    t = sub.add_parser("terminals", help="many terminals sending commands at a Poisson rate")
    t.add_argument("--count", type=int, required=True, help="how many terminals")
    t.add_argument("--server", default=DEFAULT_SERVER, help=f"base URL (default {DEFAULT_SERVER})")
    t.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    t.add_argument("--rate", type=float, default=0.5, help="commands per second per terminal (default 0.5)")
    t.add_argument("--email", default=DEMO_EMAIL, help="sign in as (default: the demo owner)")
    t.add_argument("--password", default=DEMO_PASSWORD)
    t.add_argument("--token", help="an access token to use instead of signing in")
    t.add_argument("--mix", default="venue", choices=sorted(MIXES),
                   help="command mix: venue (venue.get/update) or dinner (servers working orders); default venue")
    t.add_argument("--seed", type=int, help="random seed, for a repeatable schedule")
    t.add_argument("--json", action="store_true", help="print the report as JSON instead of a summary")
    return parser


def _ms(figures: dict[str, float | None]) -> str:
    if figures["max"] is None:
        return "no samples"
    return "  ".join(f"{name} {value:.1f}" for name, value in figures.items()) + "  (ms)"


def summary(report: dict[str, Any]) -> str:
    """The report as a few human lines."""
    codes = ", ".join(f"{code} {n}" for code, n in sorted(report["errors_by_code"].items())) or "none"
    events = report["events_per_terminal"]
    lines = [
        f"{report['terminals']} terminals, {report['duration_s']:g} s at {report['rate_per_terminal']:g}/s each "
        f"({report['elapsed_s']:.1f} s with draining)",
        f"commands   {report['commands']} sent, {report['replies']} replies, {report['writes']} writes acknowledged",
        f"errors     {report['errors']} ({codes})",
        f"ack        {_ms(report['ack_ms'])}, from the scheduled tick",
        f"           {_ms(report['ack_sent_ms'])}, from the send; {report['queued']} ticks waited for their order",
        f"fan-out    {_ms(report['fanout_ms'])}; incomplete {report['fanout_incomplete']}",
        f"events     {report['events']} received, per terminal {min(events)}–{max(events)}",
        f"anomalies  {len(report['anomalies'])} (gaps, duplicates, bad frames)",
        f"sim lag    {_ms(report['sim_loop_lag_ms'])} (the simulator's own lateness)",
        "percentiles are nearest-rank",
    ]
    if report["outcomes"]:
        lines.append("outcomes   " + ", ".join(f"{k} {v}" for k, v in sorted(report["outcomes"].items()))
                     + " (business outcomes handled, not errors)")
    lines += [f"  {line}" for line in report["error_samples"][:5]]
    lines += [f"  {line}" for line in report["anomalies"][:20]]
    lines += [f"  closed by the server: {line}" for line in report["closed"]]
    return "\n".join(lines)


def clean(report: dict[str, Any]) -> bool:
    """No errors, no anomalies, every write seen by every terminal, nobody hung up on."""
    return not (report["errors"] or report["anomalies"] or report["fanout_incomplete"] or report["closed"])


def main(argv: list[str]) -> int:
    """Run `fynlo sim <simulator> …`; return the process exit status."""
    args = _parser().parse_args(argv)
    run = partial(run_terminals, args.server, count=args.count, duration=args.duration, rate=args.rate,
                  token=args.token, email=args.email, password=args.password, mix=args.mix,
                  seed=args.seed, progress=True)
    try:
        report = trio.run(run)
    except httpx.TransportError as exc:
        print(f"fynlo sim: cannot reach {args.server}: {exc}", file=sys.stderr)
        return 2
    except (SimError, ValueError) as exc:
        print(f"fynlo sim: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(json.dumps(report, indent=2) if args.json else summary(report))
    return 0 if clean(report) else 1
