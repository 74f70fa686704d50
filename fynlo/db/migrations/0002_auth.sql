-- Staff, terminals, refresh tokens and PIN lockouts (docs/permissions.md).
-- Secrets are never stored in the clear: passwords and PINs as argon2 hashes, device and
-- refresh tokens as SHA-256 digests (they are long random strings, so a plain digest suffices).

CREATE TABLE staff (
    id            uuid PRIMARY KEY,
    venue_id      uuid NOT NULL REFERENCES venues(id),
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('owner', 'manager', 'staff', 'kitchen')),
    email         text,                 -- login name for the dashboard; unique ignoring case
    password_hash text,                 -- argon2
    pin_lookup    bytea,                -- HMAC-SHA256(key from FYNLO_SECRET_KEY, venue_id || pin)
    pin_hash      text,                 -- argon2 of the PIN
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT staff_pin_unique UNIQUE (venue_id, pin_lookup),
    CONSTRAINT staff_pin_pair CHECK ((pin_lookup IS NULL) = (pin_hash IS NULL)),
    CONSTRAINT staff_login_pair CHECK ((email IS NULL) = (password_hash IS NULL))
);
CREATE UNIQUE INDEX staff_email_unique ON staff (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX staff_venue ON staff (venue_id);

-- A device registered by a manager; its token (shown once) is what PIN login presents.
CREATE TABLE terminals (
    id            uuid PRIMARY KEY,
    venue_id      uuid NOT NULL REFERENCES venues(id),
    name          text NOT NULL,
    token_hash    bytea NOT NULL UNIQUE,
    created_by    uuid REFERENCES staff(id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX terminals_venue ON terminals (venue_id);

-- One row per refresh token. A family is every token descended from one login; rotation
-- marks the old row used and points it at its replacement. A family is revoked by setting
-- revoked_at on all its rows.
CREATE TABLE refresh_tokens (
    id            uuid PRIMARY KEY,
    family_id     uuid NOT NULL,
    staff_id      uuid NOT NULL REFERENCES staff(id),
    venue_id      uuid NOT NULL REFERENCES venues(id),
    terminal_id   uuid REFERENCES terminals(id),
    token_hash    bytea NOT NULL UNIQUE,
    replaced_by   uuid REFERENCES refresh_tokens(id),
    issued_at     timestamptz NOT NULL DEFAULT now(),
    used_at       timestamptz,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
-- authenticate() asks "is this family revoked?" on every token check: keep that answer small.
CREATE INDEX refresh_tokens_revoked_family ON refresh_tokens (family_id) WHERE revoked_at IS NOT NULL;

-- Wrong PINs (logins and approvals), counted per terminal and per venue over a window.
CREATE TABLE pin_failures (
    venue_id      uuid NOT NULL REFERENCES venues(id),
    terminal_id   uuid REFERENCES terminals(id),   -- NULL: an approval entered without a terminal
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pin_failures_venue ON pin_failures (venue_id, at);
CREATE INDEX pin_failures_terminal ON pin_failures (terminal_id, at) WHERE terminal_id IS NOT NULL;

-- Active and past lockouts: terminal_id NULL locks the whole venue's PIN entry.
CREATE TABLE pin_locks (
    venue_id      uuid NOT NULL REFERENCES venues(id),
    terminal_id   uuid REFERENCES terminals(id),
    started_at    timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz NOT NULL
);
CREATE INDEX pin_locks_venue ON pin_locks (venue_id, locked_until);
