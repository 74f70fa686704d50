-- Venue bridges are registered devices like terminals, with their own kind of token; the
-- devices they drive report their state here.

ALTER TABLE terminals ADD COLUMN kind text NOT NULL DEFAULT 'terminal' CHECK (kind IN ('terminal', 'bridge'));

CREATE TABLE devices (
    venue_id    uuid NOT NULL REFERENCES venues(id),
    name        text NOT NULL,                     -- as the bridge's config names it
    kind        text NOT NULL CHECK (kind IN ('printer', 'drawer', 'scanner')),
    status      text NOT NULL,
    bridge_id   uuid REFERENCES terminals(id),
    detail      text,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue_id, name)
);

ALTER TABLE print_jobs ADD COLUMN device text;          -- the printer that took it
ALTER TABLE print_jobs ADD COLUMN detail text;          -- why it failed, when it did
ALTER TABLE print_jobs ADD COLUMN copy_of uuid REFERENCES print_jobs(id);
