"""The benchmark's database setup, run by `python -m sim.bench` as a process of its own.

Applies the migrations and seeds the demo venue (fynlo.demo: its menu, floor and staff) into
FYNLO_DATABASE_URL, with FYNLO_SECRET_KEY (PIN lookups are keyed by the secret, so it must be
the server's). This is setup through the project's own code, not the path being measured; it
runs as a separate process so that `sim/` keeps to the wire. Prints `{"venue_id": …}`.
"""

from __future__ import annotations

import json
import sys

from fynlo.config import Settings
from fynlo.db import apply_migrations
from fynlo.demo import VENUE_ID, seed


def main() -> int:
    settings = Settings.from_env()
    if not settings.database_url or not settings.secret_key:
        print("bench/seed.py needs FYNLO_DATABASE_URL and FYNLO_SECRET_KEY", file=sys.stderr)
        return 2
    apply_migrations(settings.database_url)
    seed(settings, settings.database_url)
    print(json.dumps({"venue_id": VENUE_ID}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
