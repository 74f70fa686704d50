-- Tills with their append-only cash ledger and Z reports; payments, refunds and their fees.

-- Gap-free per-venue numbers for receipts and Z reports, bumped under the venue row lock.
ALTER TABLE venues ADD COLUMN last_receipt integer NOT NULL DEFAULT 0;
ALTER TABLE venues ADD COLUMN last_z integer NOT NULL DEFAULT 0;

-- One cash session of one drawer: opened with a float, closed with a count.
CREATE TABLE tills (
    id          uuid PRIMARY KEY,
    venue_id    uuid NOT NULL REFERENCES venues(id),
    drawer      text NOT NULL,                     -- the cash drawer it counts (a bridge drawer or station name)
    terminal_id uuid,                              -- the terminal that opened it
    status      text NOT NULL CHECK (status IN ('open', 'closed')),
    float       bigint NOT NULL CHECK (float >= 0),
    opened_by   uuid,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    closed_by   uuid,
    closed_at   timestamptz,
    expected    bigint,
    counted     bigint,
    variance    bigint,
    z_number    integer
);
-- One open till per cash drawer.
CREATE UNIQUE INDEX tills_one_open_per_drawer ON tills (venue_id, drawer) WHERE status = 'open';

-- Every movement of cash in or out of a till, never updated or deleted.
-- expected = float + sales − refunds + paid_in − paid_out − drops (a no_sale moves nothing).
CREATE TABLE cash_ledger (
    id          bigserial PRIMARY KEY,
    venue_id    uuid NOT NULL REFERENCES venues(id),
    till_id     uuid NOT NULL REFERENCES tills(id),
    kind        text NOT NULL CHECK (kind IN ('float', 'sale', 'refund', 'paid_in', 'paid_out', 'drop', 'no_sale')),
    amount      bigint NOT NULL,                   -- signed: what it adds to the drawer
    payment_id  uuid,
    refund_id   uuid,
    movement_id uuid,
    reason      text NOT NULL DEFAULT '',
    staff_id    uuid,
    at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (till_id, movement_id)
);
CREATE INDEX cash_ledger_till ON cash_ledger (till_id);

CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER cash_ledger_append_only BEFORE UPDATE OR DELETE ON cash_ledger
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- A numbered, immutable record of each till close.
CREATE TABLE z_reports (
    venue_id    uuid NOT NULL REFERENCES venues(id),
    number      integer NOT NULL,
    till_id     uuid NOT NULL UNIQUE REFERENCES tills(id),
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (venue_id, number)
);
CREATE TRIGGER z_reports_immutable BEFORE UPDATE OR DELETE ON z_reports
    FOR EACH ROW EXECUTE FUNCTION refuse_change();

-- One attempt to take money for an order, by one method.
-- pending → authorised (card, manual capture) → succeeded; or failed / canceled / expired.
CREATE TABLE payments (
    id             uuid PRIMARY KEY,
    venue_id       uuid NOT NULL REFERENCES venues(id),
    order_id       uuid NOT NULL REFERENCES orders(id),
    method         text NOT NULL CHECK (method IN ('cash', 'card', 'open_banking')),
    status         text NOT NULL CHECK (status IN ('pending', 'authorised', 'succeeded', 'failed', 'canceled', 'expired')),
    amount         bigint NOT NULL CHECK (amount > 0),       -- towards the order's total
    tip            bigint NOT NULL DEFAULT 0 CHECK (tip >= 0),
    surcharge      bigint NOT NULL DEFAULT 0 CHECK (surcharge >= 0), -- fees passed to the customer
    fee_declined   boolean NOT NULL DEFAULT false,           -- the customer declined a surcharge
    processing_fee bigint NOT NULL DEFAULT 0,                -- what the provider charges the venue
    platform_fee   bigint NOT NULL DEFAULT 0,
    authorised     bigint NOT NULL DEFAULT 0,                -- card: held by a manual-capture intent
    captured       bigint NOT NULL DEFAULT 0,                -- what was actually collected (incl. tip, surcharge)
    refunded       bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0),
    tendered       bigint,
    change         bigint,
    till_id        uuid REFERENCES tills(id),
    provider_ref   text,                                     -- PaymentIntent id, bank reference
    provider_key   text,                                     -- idempotency key sent to the provider
    details        jsonb NOT NULL DEFAULT '{}'::jsonb,       -- present, capture, client_secret, qr_url…
    needs_review   boolean NOT NULL DEFAULT false,
    review_reason  text,
    staff_id       uuid,
    terminal_id    uuid,
    receipt_number integer,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    settled_at     timestamptz,
    CHECK (refunded <= captured)
);
CREATE INDEX payments_order ON payments (order_id);
CREATE INDEX payments_venue_day ON payments (venue_id, created_at);
CREATE UNIQUE INDEX payments_provider_ref ON payments (method, provider_ref) WHERE provider_ref IS NOT NULL;
CREATE INDEX payments_open ON payments (venue_id, status) WHERE status IN ('pending', 'authorised');
-- One active (pending or authorised) card or QR attempt per order and method.
CREATE UNIQUE INDEX payments_one_active ON payments (order_id, method)
    WHERE status IN ('pending', 'authorised') AND method <> 'cash';

CREATE TABLE refunds (
    id             uuid PRIMARY KEY,
    venue_id       uuid NOT NULL REFERENCES venues(id),
    payment_id     uuid NOT NULL REFERENCES payments(id),
    order_id       uuid NOT NULL REFERENCES orders(id),
    amount         bigint NOT NULL CHECK (amount > 0),
    status         text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    reason         text NOT NULL,
    till_id        uuid REFERENCES tills(id),
    provider_ref   text,
    approved_by    uuid,
    staff_id       uuid,
    receipt_number integer,
    created_at     timestamptz NOT NULL DEFAULT now(),
    settled_at     timestamptz
);
CREATE INDEX refunds_payment ON refunds (payment_id);
CREATE INDEX refunds_venue_day ON refunds (venue_id, created_at);

-- Provider callbacks already applied (Stripe event ids, bank callback ids): each applies once.
CREATE TABLE provider_events (
    provider    text NOT NULL,
    event_id    text NOT NULL,
    venue_id    uuid REFERENCES venues(id),
    kind        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_id)
);
