-- The floor plan: areas ("Main room", "Terrace") and their tables. Orders point at a table
-- (0005_orders.sql); a table taken off the plan is deactivated, never deleted, so old orders
-- keep their reference. Also the menu's stock-out flag (below).

ALTER TABLE venues ADD COLUMN floor_version integer NOT NULL DEFAULT 1;

CREATE TABLE floor_areas (
    id          uuid PRIMARY KEY,
    venue_id    uuid NOT NULL REFERENCES venues(id),
    name        text NOT NULL,
    position    integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX floor_areas_name ON floor_areas (venue_id, lower(name));

CREATE TABLE floor_tables (
    id          uuid PRIMARY KEY,
    venue_id    uuid NOT NULL REFERENCES venues(id),
    area_id     uuid NOT NULL REFERENCES floor_areas(id),
    name        text NOT NULL,
    seats       integer NOT NULL DEFAULT 2 CHECK (seats BETWEEN 1 AND 100),
    position    integer NOT NULL DEFAULT 0,
    active      boolean NOT NULL DEFAULT true
);
CREATE UNIQUE INDEX floor_tables_name ON floor_tables (venue_id, lower(name));
CREATE INDEX floor_tables_area ON floor_tables (area_id);

-- True while an item is unavailable because its stock count reached 0 (not because someone
-- 86'd it by hand): restocking brings exactly these items back (fynlo/menu/stock.py).
ALTER TABLE menu_items ADD COLUMN stock_out boolean NOT NULL DEFAULT false;
