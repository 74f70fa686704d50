"""How a menu change reaches every terminal: one version bump and one `menu.updated` event.

The event carries the changed things exactly as `menu.get` shows them, so a terminal patches
its cached menu and takes the new `version` without asking for the whole menu again.
"""

from __future__ import annotations

from typing import Any, Iterable

from fynlo.commands.unit import Tx
from fynlo.menu.editing import bump
from fynlo.menu.repo import read_categories, read_groups, read_items


def publish(tx: Tx, *, categories: Iterable[str] = (), items: Iterable[str] = (),
            groups: Iterable[str] = ()) -> dict[str, Any]:
    """Bump `menu_version` and emit `menu.updated` with these things; return the event's data.

    Call it once per command, after the rows are written (and after `hold_venue`).
    """
    conn, venue_id = tx.conn, tx.venue_id
    version = bump(conn, venue_id, "menu_version")
    wanted = {"categories": (read_categories, list(categories)), "items": (read_items, list(items)),
              "modifier_groups": (read_groups, list(groups))}
    delta: dict[str, Any] = {"version": version}
    for key, (read, ids) in wanted.items():
        delta[key] = read(conn, venue_id, ids) if ids else []
    tx.emit("menu.updated", delta)
    return delta
