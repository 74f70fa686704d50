"""Two server processes on one database and one Redis: leases, cross-process events, failover."""

from __future__ import annotations

import time

import coredis
import trio

from fynlo.db import Database
from sim.client import TerminalClient
from tests.support import VenueKit, kill_bus_connections, make_settings, running_server, server_process
from tests.test_commands import post


async def test_two_processes_share_events_and_fail_over(database_url: str, redis_url: str, namespace: str,
                                                         db: Database, kit: VenueKit) -> None:
    manager = kit.token("manager")
    async with server_process(database_url, instance="proc-a", redis_url=redis_url,
                              redis_namespace=namespace) as (a_base, a_proc):
        b_settings = make_settings(redis_url=redis_url, redis_namespace=namespace, lease_ttl_s=6.0,
                                   lease_renew_s=2.0, instance_name="proc-b")
        async with running_server(b_settings, database_url) as b_base:
            async with TerminalClient.connect(b_base, kit.token("staff"), terminal_id=kit.terminal_id) as terminal:
                start = terminal.last_seq

                # B does not run the venue: it says who does
                refused = await post(b_base, manager, "venue.update", {"address": "via B"})
                assert refused["error"]["code"] == "unavailable"
                assert refused["error"]["details"]["owner"] == "proc-a"

                # commands on A reach the terminal on B, gap-free
                for i in range(5):
                    assert (await post(a_base, manager, "venue.update", {"address": f"A{i}"}))["ok"]
                await terminal.wait_for_seq(start + 5, timeout=5)
                assert [e["seq"] for e in terminal.events if e["seq"] > start] == list(range(start + 1, start + 6))

                # Redis drops the subscriptions: events published meanwhile are caught up from the table
                async with coredis.Redis.from_url(redis_url) as admin:
                    assert await kill_bus_connections(admin, namespace, coredis.PureToken.PUBSUB) >= 1
                for i in range(3):
                    assert (await post(a_base, manager, "venue.update", {"address": f"gap{i}"}))["ok"]
                await terminal.wait_for_seq(start + 8, timeout=10)
                assert [e["seq"] for e in terminal.events if e["seq"] > start] == list(range(start + 1, start + 9))

                # the owner dies without a word: B takes the lease within 10 s
                a_proc.kill()
                died = time.monotonic()
                with trio.fail_after(12):
                    while True:
                        reply = await post(b_base, manager, "venue.update", {"address": "after failover"})
                        if reply["ok"]:
                            break
                        assert reply["error"]["code"] == "unavailable"
                        await trio.sleep(0.25)
                assert time.monotonic() - died < 10.0
                await terminal.wait_for_seq(start + 9, timeout=5)
                assert terminal.events[-1]["data"]["address"] == "after failover"
                assert terminal.anomalies == []
