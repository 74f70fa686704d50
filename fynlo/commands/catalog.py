"""Every command module, imported once so their commands register (the dispatcher's table)."""

import fynlo.floor.commands  # noqa: F401
import fynlo.menu.commands  # noqa: F401
import fynlo.orders.commands  # noqa: F401
import fynlo.orders.kitchen_commands  # noqa: F401
import fynlo.orders.queries  # noqa: F401
import fynlo.orders.split_commands  # noqa: F401
import fynlo.printing.commands  # noqa: F401
import fynlo.venues.commands  # noqa: F401
