"""Venue leases in PostgreSQL: a venue's actors run only in the process holding its lease.

Every process renews what it holds and takes what is free or expired, all in one statement;
an owner that dies stops renewing and another takes over once its lease runs out.
"""

from __future__ import annotations

from typing import Any

_CLAIM = """
INSERT INTO venue_leases (venue_id, owner, address, expires_at)
SELECT v.id, %(owner)s, %(address)s, now() + make_interval(secs => %(ttl)s)
  FROM venues v {where}
ON CONFLICT (venue_id) DO UPDATE
   SET owner = EXCLUDED.owner, address = EXCLUDED.address, expires_at = EXCLUDED.expires_at,
       acquired_at = CASE WHEN venue_leases.owner = EXCLUDED.owner
                          THEN venue_leases.acquired_at ELSE now() END
 WHERE venue_leases.owner = EXCLUDED.owner OR venue_leases.expires_at < now()
RETURNING venue_id
"""


def claim_all(conn: Any, owner: str, address: str, ttl_s: float) -> set[str]:
    """Renew this owner's leases and take every free or expired one; return all it holds."""
    rows = conn.execute(_CLAIM.format(where=""), {"owner": owner, "address": address, "ttl": ttl_s})
    return {str(r["venue_id"]) for r in rows.fetchall()}


def claim_one(conn: Any, venue_id: str, owner: str, address: str, ttl_s: float) -> bool:
    rows = conn.execute(
        _CLAIM.format(where="WHERE v.id = %(venue)s"),
        {"owner": owner, "address": address, "ttl": ttl_s, "venue": venue_id},
    )
    return rows.fetchone() is not None


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
