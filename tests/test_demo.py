"""`make run`'s demo venue, end to end: seeded, serving, printing, taking money, and stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg
import trio
from psycopg import sql

from tests.support import free_port


def printed(var_dir: Path, printer: str, text: str) -> bool:
    path = var_dir / "printers" / f"{printer}.txt"
    return path.exists() and text in path.read_text()


async def test_the_demo_venue_serves_prints_takes_money_and_stops_cleanly(database_url: str, tmp_path: Path) -> None:
    name = f"fynlo_demo_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    url = psycopg.conninfo.make_conninfo(**{**info, "dbname": name})
    port = free_port()
    env = {**os.environ, "FYNLO_DATABASE_URL": url, "FYNLO_PORT": str(port), "FYNLO_VAR_DIR": str(tmp_path),
           "FYNLO_LOG_LEVEL": "WARNING"}
    env.pop("FYNLO_REDIS_URL", None)
    with open(tmp_path / "demo.log", "wb") as log_file:
        proc = await trio.lowlevel.open_process([sys.executable, "-m", "fynlo", "demo"], env=env,
                                                stdout=log_file, stderr=subprocess.STDOUT)
    try:
        with trio.fail_after(90):
            while not printed(tmp_path, "kitchen", "--- cut ---"):
                assert proc.returncode is None, (tmp_path / "demo.log").read_text()
                await trio.sleep(0.5)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            login = await http.post("/api/v1/auth/login", json={"email": "demo@fynlo.local", "password": "fynlo-demo"})
            assert login.status_code == 200 and login.json()["user"]["role"] == "owner"
            menu = await http.post("/api/v1/commands", json={"type": "command", "id": str(uuid.uuid4()),
                                                            "name": "menu.get", "args": {}},
                                   headers={"Authorization": f"Bearer {login.json()['access_token']}"})
        body = menu.json()["result"]
        assert len(body["items"]) == 40 and len(body["categories"]) == 6 and body["modifier_groups"]
        seeded = json.loads((tmp_path / "demo-terminals.json").read_text())
        assert len(seeded["terminals"]) == 2 and seeded["bridge"]["bridge_token"].startswith("fyb_")
        with trio.fail_after(90):      # the simulated staff take the money for a first bill
            while not printed(tmp_path, "receipt", "\nRECEIPT\n"):
                assert proc.returncode is None, (tmp_path / "demo.log").read_text()
                await trio.sleep(0.5)
        log = (tmp_path / "demo.log").read_text()
        assert "demo@fynlo.local / fynlo-demo" in log and "[printer kitchen] printed" in log
        assert "Stripe fake at http://127.0.0.1:" in log and "simulated bank at http://127.0.0.1:" in log
        assert "[payment] £" in log
        assert '[[drawers]]\nname = "main"\nprinter = "receipt"' in (tmp_path / "bridge.toml").read_text()
        with psycopg.connect(url) as conn:
            paid = conn.execute("SELECT count(*) FROM payments WHERE status = 'succeeded'").fetchone()[0]
            fee = conn.execute("SELECT settings->>'platform_fee_percent' FROM venues").fetchone()[0]
            tills = conn.execute("SELECT drawer, float FROM tills WHERE status = 'open'").fetchall()
        assert paid >= 1 and fee == "1.00" and tills == [("main", 10000)]
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(20):
            await proc.wait()
        assert proc.returncode == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
