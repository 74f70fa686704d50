"""The `fynlo` command: serve, migrate, demo, and (imported lazily) bridge and sim."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from functools import partial
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
    """`fynlo migrate`: apply the database migrations not yet applied."""
    from fynlo.db import apply_migrations

    settings = _settings(args)
    with database(settings) as url:
        applied = apply_migrations(url)
    print("applied: " + ", ".join(applied) if applied else "the database is up to date")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """`fynlo serve`: apply any migrations, then serve until Ctrl-C or SIGTERM."""
    import trio

    from fynlo import logs
    from fynlo.db import apply_migrations
    from fynlo.server import run_until_stopped, serve_forever

    settings = _settings(args)
    logs.configure(settings.log_level)
    with database(settings) as url:
        apply_migrations(url)
        try:
            trio.run(run_until_stopped, partial(serve_forever, settings, url, settle=True))
        except KeyboardInterrupt:
            pass
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """`fynlo demo`: run the demo venue on loopback."""
    from fynlo.demo import run_demo

    settings = _settings(args)
    with ExitStack() as stack:
        url = stack.enter_context(database(settings))
        return run_demo(settings, url)


def cmd_sim(argv: list[str]) -> int:
    """`fynlo sim`: the terminal and venue simulators, with their own options."""
    from sim.cli import main as sim_main

    return sim_main(argv)


def cmd_bridge(argv: list[str]) -> int:
    """`fynlo bridge`: the venue bridge daemon, with its own options."""
    from bridge.__main__ import main as bridge_main

    return bridge_main(argv)


# These own their options: everything after their name is theirs (imported only when used).
PASS_THROUGH = {"sim": cmd_sim, "bridge": cmd_bridge}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `fynlo` command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASS_THROUGH:
        return PASS_THROUGH[argv[0]](argv[1:])
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
    sub.add_parser("sim", help="terminal and venue simulators (fynlo sim --help)")
    sub.add_parser("bridge", help="the venue bridge daemon (fynlo bridge --help)")
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
