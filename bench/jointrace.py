"""Where each command's ack went: the simulator's times joined with the traced server's.

    FYNLO_TRACE_RECORDS=1 python -m sim.bench --no-ramp --server-command "python bench/traced_server.py"
    python bench/jointrace.py [--commands results/commands.json] [--trace results/trace.json]

Both processes stamp `time.perf_counter()` (one monotonic clock on Linux), so each command's
ack splits into four parts by its id:

* `late`: from its scheduled tick until the simulator sent it (the simulator's own lateness);
* `in`: from the send until the frame reached the server's session (the network, hypercorn
  and quart reading it);
* `server`: from there until the server's socket write of the reply returned;
* `out`: from that write until the simulator's reader took the reply off the wire (negative
  when the reader got it before the server's write call returned).

Prints percentiles of each part for all commands and for those that call no provider, and
the slowest fiftieth, one line each. Reads only the two files.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = ("ack", "late", "in", "server", "out")
CALLS_A_PROVIDER = ("payment.card_", "payment.qr_", "payment.refund")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 100)) - 1))]


def join(commands: list[list], records: list[dict]) -> list[dict]:
    served = {r["id"]: r for r in records if r.get("id") and r.get("arrived") and r.get("written")}
    rows = []
    for command_id, name, tick, sent, acked in commands:
        r = served.get(command_id)
        if r is None:
            continue
        rows.append({"name": name, "ack": acked - tick, "late": sent - tick, "in": r["arrived"] - sent,
                     "server": r["written"] - r["arrived"], "out": acked - r["written"]})
    return rows


def _table(title: str, rows: list[dict]) -> None:
    print(f"{title} ({len(rows)} commands), ms")
    print(f"  {'':8}" + "".join(f"{p:>9}" for p in ("p50", "p90", "p99", "max")))
    for part in PARTS:
        values = [row[part] * 1000 for row in rows]
        print(f"  {part:8}" + "".join(f"{v:9.2f}" for v in (_percentile(values, 50), _percentile(values, 90),
                                                            _percentile(values, 99), max(values))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=Path, default=RESULTS / "commands.json")
    parser.add_argument("--trace", type=Path, default=RESULTS / "trace.json")
    args = parser.parse_args()
    records = json.loads(args.trace.read_text()).get("records")
    if not records:
        parser.error(f"{args.trace} has no records: run the traced server with FYNLO_TRACE_RECORDS=1")
    rows = join(json.loads(args.commands.read_text()), records)
    if not rows:
        parser.error("no command of the simulator's is in the trace: are both files from the same run?")
    _table("all", rows)
    _table("calling no provider", [r for r in rows if not r["name"].startswith(CALLS_A_PROVIDER)])
    print("the slowest fiftieth, ms")
    for row in sorted(rows, key=lambda r: -r["ack"])[:len(rows) // 50 + 1]:
        print(f"  {row['name']:22}" + " ".join(f"{p} {row[p] * 1000:6.1f}" for p in PARTS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
