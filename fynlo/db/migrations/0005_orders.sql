-- Orders, their lines, kitchen tickets and print jobs.

-- Daily order numbers per venue: 1, 2, 3… from the start of each business day.
CREATE TABLE order_counters (
    venue_id      uuid NOT NULL REFERENCES venues(id),
    business_date date NOT NULL,
    last_number   integer NOT NULL,
    PRIMARY KEY (venue_id, business_date)
);

CREATE TABLE orders (
    id             uuid PRIMARY KEY,
    venue_id       uuid NOT NULL REFERENCES venues(id),
    number         integer NOT NULL,
    business_date  date NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('dine_in', 'takeaway', 'delivery')),
    table_id       uuid REFERENCES floor_tables(id),
    covers         integer NOT NULL DEFAULT 0 CHECK (covers >= 0),
    status         text NOT NULL CHECK (status IN ('open', 'completed', 'cancelled')),
    payment_status text NOT NULL CHECK (payment_status IN ('unpaid', 'part_paid', 'paid', 'part_refunded', 'refunded')),
    kitchen_status text NOT NULL CHECK (kitchen_status IN ('none', 'sent', 'preparing', 'ready', 'served')),
    version        integer NOT NULL,
    current_course integer NOT NULL DEFAULT 0,       -- courses up to this one fire when sent
    discount       jsonb,                            -- the order-level discount {kind, value, reason}
    service_charge jsonb,                            -- {rate, mandatory} when applied
    gratuity       jsonb,                            -- {percent} or {amount}
    total          bigint NOT NULL DEFAULT 0,        -- what the order costs, for lists and reports
    paid           bigint NOT NULL DEFAULT 0,
    opened_by      uuid,
    opened_at      timestamptz NOT NULL DEFAULT now(),
    closed_at      timestamptz,
    cancel_reason  text,
    related        jsonb NOT NULL DEFAULT '{}'::jsonb, -- split_from, merged_into…
    UNIQUE (venue_id, business_date, number)
);
CREATE INDEX orders_venue_open ON orders (venue_id, table_id) WHERE status = 'open';
CREATE INDEX orders_venue_date ON orders (venue_id, business_date);

CREATE TABLE order_lines (
    id           uuid PRIMARY KEY,
    order_id     uuid NOT NULL REFERENCES orders(id),
    venue_id     uuid NOT NULL REFERENCES venues(id),
    position     integer NOT NULL,
    item_id      uuid NOT NULL,
    name         text NOT NULL,
    unit_price   bigint NOT NULL,                    -- minor units, VAT included, before modifiers
    quantity     integer NOT NULL CHECK (quantity BETWEEN 1 AND 999),
    modifiers    jsonb NOT NULL DEFAULT '[]'::jsonb,
    note         text NOT NULL DEFAULT '',
    seat         integer,
    course       integer NOT NULL DEFAULT 1,
    station      text NOT NULL,
    allergens    text[] NOT NULL DEFAULT '{}',
    vat_eat_in   text NOT NULL,
    vat_takeaway text NOT NULL,
    state        text NOT NULL CHECK (state IN ('unsent', 'sent', 'void')),
    discount     jsonb,
    share        jsonb,                              -- {index, parts} for a line divided by a split
    sent_at      timestamptz,
    void_reason  text,
    voided_by    uuid
);
CREATE INDEX order_lines_order ON order_lines (order_id);

CREATE TABLE kitchen_tickets (
    id          uuid PRIMARY KEY,
    venue_id    uuid NOT NULL REFERENCES venues(id),
    order_id    uuid NOT NULL REFERENCES orders(id),
    station     text NOT NULL,
    course      integer NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('order', 'void')),
    status      text NOT NULL CHECK (status IN ('held', 'sent', 'preparing', 'ready')),
    lines       jsonb NOT NULL,                     -- what the ticket says, as sent
    created_at  timestamptz NOT NULL DEFAULT now(),
    fired_at    timestamptz,
    started_at  timestamptz,
    bumped_at   timestamptz
);
CREATE INDEX kitchen_tickets_open ON kitchen_tickets (venue_id, station) WHERE status IN ('sent', 'preparing');
CREATE INDEX kitchen_tickets_order ON kitchen_tickets (order_id);

-- Everything a printer or a drawer must do; the bridge acknowledges each by id.
CREATE TABLE print_jobs (
    id          uuid PRIMARY KEY,
    venue_id    uuid NOT NULL REFERENCES venues(id),
    order_id    uuid REFERENCES orders(id),
    kind        text NOT NULL CHECK (kind IN ('receipt', 'bill', 'kitchen_ticket', 'refund_receipt', 'report', 'drawer_kick')),
    station     text,                               -- kitchen, bar, receipt: the bridge maps it to a device
    status      text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'printed', 'failed', 'unknown')),
    copy        boolean NOT NULL DEFAULT false,
    document    jsonb NOT NULL,                     -- what to print, laid out by the bridge
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX print_jobs_pending ON print_jobs (venue_id, created_at) WHERE status IN ('queued', 'sent');
