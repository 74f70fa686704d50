"""How a menu change reaches every terminal: one version bump and one `menu.updated` event.

The event carries the changed things exactly as `menu.get` shows them, so a terminal patches
its cached menu and takes the new `version` without asking for the whole menu again:
`{version, categories: [...], items: [...], modifier_groups: [...]}`.
"""

from __future__ import annotations

from fynlo.menu.catalogue import Catalogue, Kind
from fynlo.menu.repo import read_categories, read_groups, read_items

MENU = Catalogue("menu_version", "menu.updated", "menu", {
    "categories": Kind("menu_categories", read_categories, "category"),
    "items": Kind("menu_items", read_items, "menu item"),
    "modifier_groups": Kind("modifier_groups", read_groups, "modifier group"),
})
