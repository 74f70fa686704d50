"""Creating staff members, for the staff route and for seeding the demo and tests."""

from __future__ import annotations

import re
import uuid
from typing import Any

import psycopg

from fynlo.auth.passwords import hash_secret
from fynlo.auth.pins import pin_lookup, validate_pin
from fynlo.auth.principal import Role
from fynlo.config import Settings
from fynlo.errors import Conflict, ValidationError

MIN_PASSWORD_LENGTH = 8
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def create_staff(
    conn: Any,
    settings: Settings,
    venue_id: str,
    *,
    name: str,
    role: Role | str,
    pin: str | None = None,
    email: str | None = None,
    password: str | None = None,
) -> str:
    """Insert a staff member and return their id. Hashes run here: call it inside `Database.run`.

    The insert runs in a savepoint, so a Conflict leaves the caller's transaction usable.

    Raises:
        ValidationError: empty name, unknown role, malformed PIN or email, short password, or
            an email without a password (or the reverse).
        Conflict: the PIN is taken in this venue (`reason: pin_taken`) or the email anywhere
            (`reason: email_taken`).
    """
    name = name.strip()
    if not name:
        raise ValidationError("a staff member needs a name", field="name")
    if role not in Role.staff_roles():
        raise ValidationError(f"role must be one of {', '.join(Role.staff_roles())}", field="role")
    role = Role(role)
    if pin is not None:
        validate_pin(pin)
    if (email is None) != (password is None):
        raise ValidationError("email and password go together", field="email" if email is None else "password")
    if email is not None:
        email = email.strip().lower()
        if not _EMAIL.fullmatch(email):
            raise ValidationError("not an email address", field="email")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"a password has at least {MIN_PASSWORD_LENGTH} characters", field="password")
    staff_id = str(uuid.uuid4())
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO staff (id, venue_id, name, role, email, password_hash, pin_lookup, pin_hash)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    staff_id,
                    venue_id,
                    name,
                    str(role),
                    email,
                    None if password is None else hash_secret(password),
                    None if pin is None else pin_lookup(settings.secret_key, venue_id, pin),
                    None if pin is None else hash_secret(pin),
                ),
            )
    except psycopg.errors.UniqueViolation as exc:
        constraint = exc.diag.constraint_name or ""
        if constraint == "staff_pin_unique":
            raise Conflict("another staff member of this venue has that PIN", reason="pin_taken") from None
        raise Conflict("that email is already in use", reason="email_taken") from None
    return staff_id
