-- The large JSON documents (an order, in each of its events and in its command's stored reply;
-- tickets, print jobs, Z reports) are compressed with lz4 rather than pglz, when PostgreSQL was
-- built with it: pglz was a tenth of the database's CPU per command (docs/performance.md).
-- Values already stored keep their compression; PostgreSQL reads either.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
                WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE events ALTER COLUMN data SET COMPRESSION lz4;
        ALTER TABLE idempotency ALTER COLUMN reply SET COMPRESSION lz4;
        ALTER TABLE kitchen_tickets ALTER COLUMN lines SET COMPRESSION lz4;
        ALTER TABLE print_jobs ALTER COLUMN document SET COMPRESSION lz4;
        ALTER TABLE z_reports ALTER COLUMN data SET COMPRESSION lz4;
    END IF;
END
$$;
