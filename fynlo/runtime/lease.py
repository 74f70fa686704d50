"""Venue leases in PostgreSQL: a venue's actors run only in the process holding its lease.

Every process renews what it holds and takes what is free or expired, in one transaction;
an owner that dies stops renewing and another takes over once its lease runs out.
"""

from __future__ import annotations

from typing import Any

# A lease is claimed in three statements, none of which waits for a command. Every command
# holds its venue's lease row FOR KEY SHARE until it commits (fynlo/commands/unit.py, the fence):
# - the owner renews with a plain UPDATE of non-key columns, which that lock lets through, so
#   a burst of commands can never hold a renewal back past the lease's time;
# - another process takes an expired lease by deleting it, which needs the row FOR UPDATE:
#   SKIP LOCKED passes over a lease whose old owner still has a command in flight, so the
#   takeover waits for the next renewal instead, and no write of the old owner lands after it;
# - every venue without a lease (new, released, or just deleted above) is inserted.
# They run in that order, renewing last: a lease that this process's other transaction (a
# command's claim beside the renewal) inserts at any point of them is then either met by the
# insert, which waits for it, or seen by the renewal's later snapshot; never missed by both.
_RENEW = """
UPDATE venue_leases SET address = %(address)s, expires_at = now() + make_interval(secs => %(ttl)s)
 WHERE owner = %(owner)s {lease}
RETURNING venue_id
"""
_EXPIRE = """
DELETE FROM venue_leases
 WHERE venue_id IN (SELECT venue_id FROM venue_leases
                     WHERE owner <> %(owner)s AND expires_at < now() {lease}
                       FOR UPDATE SKIP LOCKED)
"""
_TAKE = """
INSERT INTO venue_leases (venue_id, owner, address, expires_at)
SELECT v.id, %(owner)s, %(address)s, now() + make_interval(secs => %(ttl)s)
  FROM venues v WHERE NOT EXISTS (SELECT 1 FROM venue_leases l WHERE l.venue_id = v.id) {venue}
ON CONFLICT (venue_id) DO NOTHING
RETURNING venue_id
"""


def _claim(conn: Any, params: dict[str, Any], *, one: bool) -> set[str]:
    lease, venue = ("AND venue_id = %(venue)s", "AND v.id = %(venue)s") if one else ("", "")
    conn.execute(_EXPIRE.format(lease=lease), params)
    taken = {str(r["venue_id"]) for r in conn.execute(_TAKE.format(venue=venue), params).fetchall()}
    return taken | {str(r["venue_id"]) for r in conn.execute(_RENEW.format(lease=lease), params).fetchall()}


def claim_all(conn: Any, owner: str, address: str, ttl_s: float) -> set[str]:
    """Renew this owner's leases and take every free or expired one; return all it holds."""
    return _claim(conn, {"owner": owner, "address": address, "ttl": ttl_s}, one=False)


def claim_one(conn: Any, venue_id: str, owner: str, address: str, ttl_s: float) -> bool:
    """Renew or take one venue's lease; False while another process holds it (or its old
    owner still has a command in flight)."""
    params = {"owner": owner, "address": address, "ttl": ttl_s, "venue": venue_id}
    return bool(_claim(conn, params, one=True))


def release(conn: Any, owner: str) -> None:
    """Give up every lease on a clean shutdown so another process need not wait them out."""
    conn.execute("DELETE FROM venue_leases WHERE owner = %s", (owner,))


def holder(conn: Any, venue_id: str) -> dict[str, Any] | None:
    """Who runs the venue: `owner` and `address`, both None while no process holds a live
    lease (one died and another has not taken over yet); None when there is no such venue."""
    row = conn.execute(
        "SELECT l.owner, l.address, l.expires_at > now() AS live"
        "  FROM venues v LEFT JOIN venue_leases l ON l.venue_id = v.id WHERE v.id = %s",
        (venue_id,),
    ).fetchone()
    if row is None:
        return None
    return {"owner": row["owner"], "address": row["address"]} if row["live"] else {"owner": None, "address": None}
