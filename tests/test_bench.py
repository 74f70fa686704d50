"""The benchmark: the dinner mix's pure parts, then the whole machinery on a small scale."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import trio

from sim.bench import DISK_STALL_MS, SPEED_DRIFT_LIMIT, run_bench, table
from sim.dinner import DinnerMix, Menu, bill_marker, order_marker
from sim.disk import DiskProbe

GROUPS = [
    {"id": "g-cook", "name": "Cooking", "min_choices": 1, "max_choices": 1,
     "options": [{"id": "rare", "available": True}, {"id": "well", "available": True}]},
    {"id": "g-extra", "name": "Extras", "min_choices": 0, "max_choices": 3,
     "options": [{"id": f"x{n}", "available": True} for n in range(4)] + [{"id": "x-off", "available": False}]},
    {"id": "g-gone", "name": "Sold out", "min_choices": 1, "max_choices": 1,
     "options": [{"id": "none-left", "available": False}]},
]
CATEGORIES = [{"id": "c-main", "name": "Mains", "station": "kitchen"}, {"id": "c-bar", "name": "Beer", "station": "bar"},
              {"id": "c-pud", "name": "Desserts", "station": "kitchen"}, {"id": "c-shop", "name": "Shop", "station": "none"}]
ITEMS = [
    {"id": "steak", "name": "Steak", "category_id": "c-main", "available": True, "modifier_group_ids": ["g-cook", "g-extra"]},
    {"id": "pie", "name": "Pie", "category_id": "c-main", "available": False, "modifier_group_ids": []},
    {"id": "fish", "name": "Fish", "category_id": "c-main", "available": True, "modifier_group_ids": ["g-gone"]},
    {"id": "ipa", "name": "IPA", "category_id": "c-bar", "available": True, "modifier_group_ids": []},
    {"id": "mess", "name": "Eton mess", "category_id": "c-pud", "available": True, "modifier_group_ids": []},
]


def test_menu_keeps_what_can_be_ordered_by_kind() -> None:
    menu = Menu({"categories": CATEGORIES, "items": ITEMS, "modifier_groups": GROUPS})
    assert {kind: [i.id for i in items] for kind, items in menu.by_kind.items()} == \
        {"main": ["steak"], "drink": ["ipa"], "dessert": ["mess"]}  # no 86'd pie, no unsatisfiable fish


def test_modifier_choices_respect_every_group() -> None:
    steak = Menu({"categories": CATEGORIES, "items": ITEMS, "modifier_groups": GROUPS}).by_kind["main"][0]
    rng = random.Random(3)
    seen = Counter()
    for _ in range(500):
        chosen = steak.choices(rng)
        cooking = [c for c in chosen if c in ("rare", "well")]
        extras = [c for c in chosen if c.startswith("x")]
        assert len(cooking) == 1 and 0 <= len(extras) <= 3 and "x-off" not in extras
        assert len(set(chosen)) == len(chosen)
        seen[len(extras)] += 1
    assert set(seen) == {0, 1, 2, 3}  # the whole range is exercised, not just the minimum


def test_sections_never_share_a_table() -> None:
    mix = DinnerMix()
    mix.tables = [(f"t{n}", 4) for n in range(18)]
    sections = [mix.player(i, 5)._tables for i in range(5)]
    dealt = [t for s in sections for t in s]
    assert sorted(dealt) == sorted(mix.tables) and len(set(dealt)) == 18
    assert mix.player(0, 5)._tables is sections[0]  # kept across runs: a used table stays used


def test_markers_match_replies_to_events() -> None:
    view = {"order_id": "o1", "version": 3, "lines": []}
    assert order_marker(view) == "o1/3" and order_marker({"x": 1}) is None
    assert bill_marker({"job_id": "j1", "order": view}) == "j1"  # the reply of order.print_bill
    assert bill_marker({"job_id": "j1", "kind": "bill"}) == "j1"  # its job.queued event
    assert bill_marker({"job_id": "j2", "kind": "kitchen_ticket"}) is None


async def test_bench_end_to_end_small(tmp_path: Path) -> None:
    """A few seconds of the real thing: setup, a server process, sign-in, the dinner mix, the
    floor (and the floor under load, from its own process), one ramp step, the JSON. Dine-in
    orders only, each server with tables to spare, so that no order ever finds its table
    taken and every outcome below is certain."""
    out = tmp_path / "latest.json"
    with trio.fail_after(60):
        await run_bench(terminals=5, duration=4, rate=8, floor_duration=2, ramp=[20], ramp_step=1.5, out=out,
                        progress=False, takeaway_share=0.0, tables_per_terminal=8, ramp_min_commands=0,
                        floor_under_load=True)
    results = json.loads(out.read_text())
    assert isinstance(results, list) and len(results) == 1
    r = results[0]
    assert r["name"] == "dinner_rush" and r["terminals"] == 5 and r["duration_s"] == 4
    for key in ("ack_ms", "fanout_ms"):
        figures = r[key]
        assert set(figures) == {"p50", "p95", "p99", "max"}
        assert 0 <= figures["p50"] <= figures["p95"] <= figures["p99"] <= figures["max"] < 10_000
    assert set(r["floor_commit_ms"]) == {"p50", "p99"} and 0 < r["floor_commit_ms"]["p50"] <= r["floor_commit_ms"]["p99"]
    assert r["commands"] > 50 and r["errors"] == 0, r["details"]["errors_by_code"]
    assert 20 < r["rss_mb"] < 2000
    assert r["capacity_cps"] in (0, 20)  # one ramp step: passed or not, but measured
    d = r["details"]
    assert d["anomalies"] == [] and d["fanout_incomplete"] == 0 and d["closed"] == []
    assert d["outcomes"] == {}  # tables dealt out: nobody met an occupied table
    ok = d["ok_by_name"]
    assert ok["order.open"] >= 5 and ok["order.add_item"] > ok["order.open"] and ok["order.send"] >= 1
    assert ok.get("order.fire_course", 0) >= 1  # dine-in orders fire their mains
    assert d["events_by_name"]["kitchen.ticket"] >= 1 and d["events_by_name"]["order.sent"] == ok["order.send"]
    assert d["floor"]["samples"] > 0 and d["capacity_steps"][0]["rate_cps"] == 20
    loaded = d["floor_under_load"]
    assert loaded["samples"] > 0 and 0 < loaded["p50"] <= loaded["p99"] and loaded["pool_size"] == d["floor"]["pool_size"]
    speeds = d["machine_speed_ms"]
    assert list(speeds) == ["before", "after_scenario", "after_floor"] and all(v > 0 for v in speeds.values())
    assert d["speed_drift"] == round(max(speeds.values()) / min(speeds.values()) - 1, 2)
    assert ("the ratio above compares two machines" in table(r)) == (d["speed_drift"] > SPEED_DRIFT_LIMIT)
    disk = d["disk_fdatasync_max_ms"]
    assert list(disk) == ["scenario", "floor"] and all(0 < ms < 10_000 for ms in disk.values())
    assert ("the disk stalled" in table(r)) == (max(disk.values()) > DISK_STALL_MS)


def test_the_disk_probe_times_its_fdatasyncs_by_window(tmp_path: Path) -> None:
    import time

    before = time.perf_counter()
    with DiskProbe(tmp_path, interval=0.01) as probe:
        time.sleep(0.3)
        during = time.perf_counter()
        slowest = probe.slowest_ms(before, during)
        assert slowest is not None and 0 < slowest < 10_000
        assert probe.slowest_ms(before - 10, before - 5) is None  # before it started: nothing
    assert list(tmp_path.iterdir()) == []  # its file is gone


def test_a_disk_probe_that_cannot_write_says_it_does_not_know(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os
    import time

    real, calls = os.fdatasync, []

    def failing_after_three(fd: int) -> None:
        calls.append(fd)
        if len(calls) > 3:
            raise OSError(5, "Input/output error")
        real(fd)

    monkeypatch.setattr(os, "fdatasync", failing_after_three)
    before = time.perf_counter()
    with DiskProbe(tmp_path, interval=0.01) as probe:
        time.sleep(0.2)
        assert len(calls) == 4  # three timed, then the failure stopped it
        assert probe.slowest_ms(before, time.perf_counter()) is None  # not "no stall"
