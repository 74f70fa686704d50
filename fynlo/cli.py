"""The `fynlo` command: serve, migrate, demo, and (imported lazily) bridge and sim."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from typing import Iterator, Sequence

from fynlo.config import Settings


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The configured database, or a private cluster in var/ when none is configured."""
    if settings.database_url:
        yield settings.database_url
        return
    from fynlo.db.embedded import private_cluster

    with private_cluster(settings.var_dir.resolve()) as url:
        yield url


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "host", None):
        settings = replace(settings, host=args.host)
    if getattr(args, "port", None):
        settings = replace(settings, port=args.port)
    return settings.with_secret()


def cmd_migrate(args: argparse.Namespace) -> int:
    from fynlo.db import apply_migrations

    settings = _settings(args)
    with database(settings) as url:
        applied = apply_migrations(url)
    print("applied: " + ", ".join(applied) if applied else "the database is up to date")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import trio

    from fynlo import logs
    from fynlo.db import apply_migrations
    from fynlo.server import serve_forever

    settings = _settings(args)
    logs.configure(settings.log_level)
    with database(settings) as url:
        apply_migrations(url)
        try:
            trio.run(serve_forever, settings, url)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fynlo.demo import run_demo

    settings = _settings(args)
    with ExitStack() as stack:
        url = stack.enter_context(database(settings))
        return run_demo(settings, url)


def cmd_sim(args: argparse.Namespace) -> int:
    from sim.cli import main as sim_main

    return sim_main(args.rest)


def cmd_bridge(args: argparse.Namespace) -> int:
    try:
        from bridge.__main__ import main as bridge_main
    except ImportError:
        print("the venue bridge is not part of this build yet", file=sys.stderr)
        return 2
    return bridge_main(args.rest)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fynlo", description="Fynlo point-of-sale server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(run=cmd_serve)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)
    demo = sub.add_parser("demo", help="run the demo venue on loopback")
    demo.add_argument("--port", type=int)
    demo.set_defaults(run=cmd_demo)
    for name, run, text in (("sim", cmd_sim, "terminal and venue simulators"),
                            ("bridge", cmd_bridge, "the venue bridge daemon")):
        p = sub.add_parser(name, help=text, add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(run=run)
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
