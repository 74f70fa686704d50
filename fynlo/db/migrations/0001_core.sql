-- Venues, the gap-free event log, idempotency records and venue leases.

CREATE TABLE venues (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
    last_seq    bigint NOT NULL DEFAULT 0,          -- the venue's event counter; bumped under the row lock
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every change, in venue order: the audit log, the replay feed, the source of offline sync.
CREATE TABLE events (
    venue_id    uuid NOT NULL REFERENCES venues(id),
    seq         bigint NOT NULL,
    name        text NOT NULL,
    data        jsonb NOT NULL,
    by_staff    uuid,
    command_id  uuid,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue_id, seq)
);

-- (venue, command id) -> the first reply; kept at least 7 days so offline replays are safe.
CREATE TABLE idempotency (
    venue_id    uuid NOT NULL REFERENCES venues(id),
    command_id  uuid NOT NULL,
    name        text NOT NULL,
    args_hash   bytea NOT NULL,
    reply       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue_id, command_id)
);
CREATE INDEX idempotency_created_at ON idempotency (created_at);

-- Which server process runs a venue's actors.
CREATE TABLE venue_leases (
    venue_id    uuid PRIMARY KEY REFERENCES venues(id),
    owner       text NOT NULL,
    address     text NOT NULL DEFAULT '',
    expires_at  timestamptz NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now()
);
