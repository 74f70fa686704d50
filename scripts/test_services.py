"""Run a command (the test suite) with a PostgreSQL and a Redis it can use.

    python scripts/test_services.py -- python -m pytest -q

PostgreSQL: FYNLO_TEST_DATABASE_URL if set; else the server at FYNLO_TEST_PG_PROBE (default
postgresql://postgres@127.0.0.1:5432/postgres) if it answers; else a private cluster in
var/test-pg (fynlo.db.embedded), stopped when the command ends.

Redis: FYNLO_TEST_REDIS_URL if set; else FYNLO_TEST_REDIS_PROBE (default
redis://127.0.0.1:6379/0) if it answers PING; else a `redis-server` started here on 127.0.0.1
(port FYNLO_TEST_REDIS_PORT, default 6390, or a free one), keeping nothing on disk, stopped
when the command ends; else the run fails, saying how to provide one.

The command's exit status is passed on; pytest's 5 (no tests collected) is a failure too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator, NoReturn
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("FYNLO_VAR_DIR") or ROOT / "var")
PG_PROBE = os.environ.get("FYNLO_TEST_PG_PROBE") or "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_PROBE = os.environ.get("FYNLO_TEST_REDIS_PROBE") or "redis://127.0.0.1:6379/0"


def say(message: str) -> None:
    print(f"test-services: {message}", file=sys.stderr, flush=True)


def fail(message: str) -> NoReturn:
    say(f"ERROR: {message}")
    sys.exit(2)


def redact(url: str) -> str:
    """The URL without its password, for printing."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    netloc = parsed.netloc.replace(f":{parsed.password}@", ":***@", 1)
    return parsed._replace(netloc=netloc).geturl()


# ---------------------------------------------------------------- PostgreSQL


def pg_answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


@contextmanager
def postgres() -> Iterator[str]:
    given = os.environ.get("FYNLO_TEST_DATABASE_URL")
    if given:
        say(f"PostgreSQL: FYNLO_TEST_DATABASE_URL={redact(given)}")
        yield given
        return
    if pg_answers(PG_PROBE):
        say(f"PostgreSQL: {redact(PG_PROBE)} answers")
        yield PG_PROBE
        return
    from fynlo.db.embedded import EmbeddedPostgresError, private_cluster

    var = VAR / "test-pg"
    say(f"PostgreSQL: nothing answers at {redact(PG_PROBE)}; starting a private cluster in {var}")
    with ExitStack() as stack:
        try:
            dsn = stack.enter_context(private_cluster(var, dbname="postgres", durable=False))
        except EmbeddedPostgresError as exc:
            fail(
                f"no PostgreSQL for the tests: {exc}\n"
                "Or set FYNLO_TEST_DATABASE_URL=postgresql://user@host:port/dbname (any database; "
                "the tests create their own beside it)."
            )
        say(f"PostgreSQL: {dsn}")
        yield dsn
    say(f"PostgreSQL: private cluster in {var} stopped")


# ---------------------------------------------------------------- Redis


def redis_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            sock.settimeout(2)
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def redis() -> Iterator[str]:
    given = os.environ.get("FYNLO_TEST_REDIS_URL")
    if given:
        say(f"Redis: FYNLO_TEST_REDIS_URL={redact(given)}")
        yield given
        return
    probe = urlparse(REDIS_PROBE)
    if redis_answers(probe.hostname or "127.0.0.1", probe.port or 6379):
        say(f"Redis: {redact(REDIS_PROBE)} answers")
        yield REDIS_PROBE
        return
    binary = shutil.which("redis-server")
    if binary is None:
        fail(
            f"no Redis for the tests: nothing answers at {redact(REDIS_PROBE)} and redis-server is not "
            "installed.\nInstall it (Debian/Ubuntu: apt-get install redis-server; macOS: brew "
            "install redis) or set FYNLO_TEST_REDIS_URL=redis://host:port/0."
        )
    port = int(os.environ.get("FYNLO_TEST_REDIS_PORT") or 6390)
    if not port_free(port):
        port = free_port()
    workdir = VAR / "test-redis"
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"Redis: nothing answers at {redact(REDIS_PROBE)}; starting {binary} on 127.0.0.1:{port}")
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--logfile", str(workdir / "redis.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not redis_answers("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (workdir / "redis.log")
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                fail(f"redis-server did not start on 127.0.0.1:{port}\n{tail}")
            time.sleep(0.05)
        url = f"redis://127.0.0.1:{port}/0"
        say(f"Redis: {url}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        say("Redis: stopped")


# ---------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    with ExitStack() as stack:
        env = dict(os.environ)
        env["FYNLO_TEST_DATABASE_URL"] = stack.enter_context(postgres())
        env["FYNLO_TEST_REDIS_URL"] = stack.enter_context(redis())
        child = subprocess.Popen(argv, env=env)
        # Ctrl-C reaches the child too (same process group); wait for it, then clean up.
        # SIGTERM is passed on to it, so the services are still stopped afterwards.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        previous_term = signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        try:
            code = child.wait()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous_term)
    if code == 5:
        say("ERROR: pytest collected no tests (exit 5): a test run that tests nothing fails")
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
