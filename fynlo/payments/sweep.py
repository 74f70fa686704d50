"""The payments sweep: open-banking requests past their expiry, and tab authorisations that
must be captured or released before the card network drops them. A card not present holds
for 7 days (5 for a Visa the merchant initiates): we settle by the venue's
`capture_within_hours`, 144 by default. A card presented in person holds for 5 days on Visa
but only 2 on Mastercard, American Express and Discover: such a hold is settled by
`IN_PERSON_HOLD_HOURS` at the latest, whatever the brand. And card and bank refunds that a
provider left unanswered, or a crash left unrecorded, for `REFUND_PATIENCE_S`: asked again
with the same idempotency key (fynlo/payments/refunds.py).

One task per server process; it only touches venues whose actors run here, and each change
goes through the order's actor (fynlo/payments/callbacks.py), so it never races a terminal.
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from fynlo.commands.spec import CommandSpec
from fynlo.db import Database
from fynlo.payments.callbacks import EXPIRE, RELEASE_HOLD, command_for
from fynlo.payments.refunds import RESUME_REFUND
from fynlo.runtime.host import VenueHost

log = logging.getLogger("fynlo.payments.sweep")

_DUE = """
SELECT p.id, p.venue_id, p.order_id, p.method, p.status
  FROM payments p JOIN venues v ON v.id = p.venue_id
 WHERE p.venue_id = ANY(%(venues)s::uuid[]) AND p.status IN ('pending', 'authorised')
   AND ((p.method = 'open_banking' AND p.status = 'pending' AND p.expires_at <= now())
     OR (p.method = 'card' AND p.status = 'authorised'
         AND p.created_at <= now() - make_interval(hours => least(
             coalesce((v.settings->>'capture_within_hours')::int, 144),
             CASE WHEN coalesce((p.details->>'present')::boolean, true) THEN %(in_person)s ELSE 168 END))))
 LIMIT 200
"""
# Two days less a margin for the sweep to run and Stripe to answer.
IN_PERSON_HOLD_HOURS = 40

_UNFINISHED_REFUNDS = """
SELECT r.id, r.venue_id, r.order_id FROM refunds r
 WHERE r.venue_id = ANY(%(venues)s::uuid[]) AND r.status = 'pending'
   AND r.created_at <= now() - make_interval(secs => %(patience)s)
 ORDER BY r.created_at LIMIT 200
"""
# Longer than a refund command waits for its provider (FYNLO_PROVIDER_TIMEOUT, 20 s by default).
REFUND_PATIENCE_S = 120


async def sweep_once(db: Database, host: VenueHost, dispatcher: Any) -> int:
    """Expire and settle what is due in this process's venues; returns how many it handled."""
    venues = list(host.venues)
    if not venues:
        return 0
    params = {"venues": venues, "in_person": IN_PERSON_HOLD_HOURS, "patience": REFUND_PATIENCE_S}
    due = await db.run(lambda conn: conn.execute(_DUE, params).fetchall())
    for row in due:
        spec: CommandSpec = EXPIRE if row["method"] == "open_banking" else RELEASE_HOLD
        args = {"order_id": str(row["order_id"]), "payment_id": str(row["id"])}
        await _step(dispatcher, str(row["venue_id"]), spec, f"{row['id']}:{row['status']}", args)
    refunds = await db.run(lambda conn: conn.execute(_UNFINISHED_REFUNDS, params).fetchall())
    for row in refunds:
        args = {"order_id": str(row["order_id"]), "refund_part_id": str(row["id"])}
        await _step(dispatcher, str(row["venue_id"]), RESUME_REFUND, str(row["id"]), args)
    return len(due) + len(refunds)


async def _step(dispatcher: Any, venue_id: str, spec: CommandSpec, cause: str, args: dict[str, Any]) -> None:
    reply = await dispatcher.system(venue_id, spec, command_for(spec.name, cause, args))
    if not reply["ok"]:
        log.warning("payment sweep step failed", extra={**args, "step": spec.name, "error": reply["error"]})


async def run_sweeps(db: Database, host: VenueHost, dispatcher: Any, *, every_s: float = 5.0,
                     task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    while True:
        try:
            await sweep_once(db, host, dispatcher)
        except Exception:
            log.exception("payment sweep failed; trying again")
        await trio.sleep(every_s)
