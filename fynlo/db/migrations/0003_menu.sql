-- The menu: categories (each sends to a station), items with tax-inclusive prices and the VAT
-- rates for eat-in and takeaway, and modifier groups with their options.

ALTER TABLE venues ADD COLUMN menu_version integer NOT NULL DEFAULT 1;

CREATE TABLE menu_categories (
    id          uuid PRIMARY KEY,
    venue_id    uuid NOT NULL REFERENCES venues(id),
    name        text NOT NULL,
    station     text NOT NULL DEFAULT 'kitchen' CHECK (station IN ('kitchen', 'bar', 'none')),
    position    integer NOT NULL DEFAULT 0
);
CREATE INDEX menu_categories_venue ON menu_categories (venue_id);

CREATE TABLE modifier_groups (
    id          uuid PRIMARY KEY,
    venue_id    uuid NOT NULL REFERENCES venues(id),
    name        text NOT NULL,
    min_choices integer NOT NULL DEFAULT 0 CHECK (min_choices >= 0),
    max_choices integer NOT NULL DEFAULT 1 CHECK (max_choices >= 1),
    CHECK (min_choices <= max_choices)
);
CREATE INDEX modifier_groups_venue ON modifier_groups (venue_id);

CREATE TABLE modifier_options (
    id          uuid PRIMARY KEY,
    group_id    uuid NOT NULL REFERENCES modifier_groups(id),
    name        text NOT NULL,
    price_delta bigint NOT NULL DEFAULT 0,          -- minor units, tax-inclusive
    position    integer NOT NULL DEFAULT 0,
    available   boolean NOT NULL DEFAULT true
);
CREATE INDEX modifier_options_group ON modifier_options (group_id);

CREATE TABLE menu_items (
    id            uuid PRIMARY KEY,
    venue_id      uuid NOT NULL REFERENCES venues(id),
    category_id   uuid NOT NULL REFERENCES menu_categories(id),
    name          text NOT NULL,
    description   text NOT NULL DEFAULT '',
    price         bigint NOT NULL CHECK (price >= 0),   -- minor units, VAT included
    vat_eat_in    numeric(5, 2) NOT NULL DEFAULT 20.00,
    vat_takeaway  numeric(5, 2) NOT NULL DEFAULT 20.00,
    sku           text,
    barcode       text,
    allergens     text[] NOT NULL DEFAULT '{}',
    available     boolean NOT NULL DEFAULT true,
    stock         integer,                              -- NULL: not counted
    low_stock_at  integer,
    position      integer NOT NULL DEFAULT 0
);
CREATE INDEX menu_items_venue ON menu_items (venue_id);
CREATE UNIQUE INDEX menu_items_sku ON menu_items (venue_id, sku) WHERE sku IS NOT NULL;

CREATE TABLE menu_item_modifier_groups (
    item_id     uuid NOT NULL REFERENCES menu_items(id),
    group_id    uuid NOT NULL REFERENCES modifier_groups(id),
    position    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (item_id, group_id)
);
