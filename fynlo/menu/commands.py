"""menu.get (the menu's writes come with ordering)."""

from __future__ import annotations

from typing import Any

from fynlo.auth.principal import Principal
from fynlo.commands.spec import Args, query
from fynlo.menu.repo import read_menu


class MenuGetArgs(Args):
    pass


@query("menu.get", MenuGetArgs)
def menu_get(conn: Any, principal: Principal, args: MenuGetArgs) -> dict[str, Any]:
    return read_menu(conn, principal.venue_id)
