"""Persistence: PostgreSQL through psycopg 3, confined to this package and the repos."""

from .pool import Connection as Connection, Database as Database
from .migrate import apply_migrations as apply_migrations, pending_migrations as pending_migrations

__all__ = ["Connection", "Database", "apply_migrations", "pending_migrations"]
