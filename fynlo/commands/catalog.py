"""Every command module, imported once so their commands register (the dispatcher's table)."""

import fynlo.floor.commands  # noqa: F401
import fynlo.menu.commands  # noqa: F401
import fynlo.orders.commands  # noqa: F401
import fynlo.orders.kitchen_commands  # noqa: F401
import fynlo.orders.queries  # noqa: F401
import fynlo.orders.split_commands  # noqa: F401
import fynlo.payments.card  # noqa: F401
import fynlo.payments.commands  # noqa: F401
import fynlo.payments.qr_commands  # noqa: F401
import fynlo.payments.reconcile  # noqa: F401
import fynlo.payments.refunds  # noqa: F401
import fynlo.printing.commands  # noqa: F401
import fynlo.tills.commands  # noqa: F401
import fynlo.venues.commands  # noqa: F401
