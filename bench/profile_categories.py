"""Where a py-spy profile of the server spends its time, in the categories of docs/performance.md.

    py-spy record --pid <server pid> --gil --rate 250 --duration 25 --format raw -o profile.txt
    python bench/profile_categories.py profile.txt --rate 250 --seconds 25

`--gil` samples only the thread holding the GIL, so the shares are of the Python work the
process can do at all (one core's worth). Each sample is counted twice: once by *purpose*
(the outermost frame that says what the work is for, first match below wins) and once by
*library* (the innermost frame of a known package: who burns the time). Reads only the text
file; imports nothing of the project.
"""

from __future__ import annotations

import argparse
from collections import Counter

PURPOSE = [  # (label, substrings of the stack), first match wins
    ("DB transaction in a worker thread (driver, handlers, JSON for Jsonb)", ["Database.run.<locals>.in_thread"]),
    ("worker and pool threads, outside a transaction", ["Thread._bootstrap"]),
    ("sending frames to sockets: events and replies (Outbox.pump)", ["Outbox.pump"]),
    ("publishing events (publisher, bus, hub)", ["Publisher.", "Hub.", "bus/"]),
    ("command frame in: parse and validate", ["_Session.handle", "parse_frame"]),
    ("command in its actor, Trio side (mailbox, thread hop)", ["EntityActor", "Registry", "actors/"]),
    ("dispatcher (args, permissions, log line, reply)", ["Dispatcher.", "_Session._run"]),
    ("WebSocket receive (hypercorn)", ["TCPServer._read_data", "TCPServer.run", "_run_handler"]),
    ("Trio scheduler, epoll and the rest", [""]),
]
LIBRARIES = [("psycopg (driver)", "psycopg"), ("json", "json/"), ("pydantic", "pydantic"), ("wsproto", "wsproto"),
             ("hypercorn", "hypercorn"), ("quart", "quart"), ("logging", "logging"), ("fynlo", "fynlo/"),
             ("actors", "actors/"), ("trio (incl. socket syscalls)", "trio/"), ("outcome", "outcome"),
             ("dataclasses", "dataclasses"), ("threading", "threading")]


def library(frames: list[str]) -> str:
    for frame in reversed(frames):
        where = frame.split(" (", 1)[1] if " (" in frame else frame
        for label, key in LIBRARIES:
            if key in where:
                return label
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", help="py-spy --format raw output")
    parser.add_argument("--rate", type=float, required=True, help="py-spy's --rate")
    parser.add_argument("--seconds", type=float, required=True, help="py-spy's --duration")
    args = parser.parse_args()
    purpose: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    total = 0
    with open(args.profile) as lines:
        for line in lines:
            if not line.strip():
                continue
            stack, count = line.rstrip().rsplit(" ", 1)
            n = int(count)
            total += n
            purpose[next(label for label, keys in PURPOSE if any(k in stack for k in keys))] += n
            libraries[library(stack.split(";"))] += n
    print(f"samples {total}: the GIL was held {100 * total / (args.rate * args.seconds):.1f}% of the time")
    for title, counter in (("by purpose", purpose), ("by library (innermost known frame)", libraries)):
        print(title)
        for label, n in counter.most_common():
            print(f"  {100 * n / total:5.1f}%  {label}")


if __name__ == "__main__":
    main()
