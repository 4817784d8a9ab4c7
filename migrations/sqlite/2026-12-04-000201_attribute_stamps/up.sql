-- A per-tenant stamp of the custom attribute definitions, kept by
-- triggers: every insert, update or delete of a definition (by any process
-- on the file, and whatever statement makes it) counts it up. A node caches
-- a tenant's definitions with the stamp they were read at and, before each
-- use, reads the stamp again (one primary-key lookup), so a definition
-- changed by another process (the `switchboard attribute` command beside a
-- running server) is seen at once. PostgreSQL has no such table: its nodes
-- hear of a change by NOTIFY (see migrations/postgres of the same name).
-- Rows are never deleted (not even with their tenant, whose id is never
-- reused), so a stamp never goes back to a value a cache may hold.
CREATE TABLE attribute_stamps (
    tenant_id INTEGER PRIMARY KEY,
    stamp BIGINT NOT NULL
);

CREATE TRIGGER attribute_stamps_insert AFTER INSERT ON custom_attributes
BEGIN
    INSERT INTO attribute_stamps (tenant_id, stamp) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;
END;

CREATE TRIGGER attribute_stamps_update AFTER UPDATE ON custom_attributes
BEGIN
    INSERT INTO attribute_stamps (tenant_id, stamp) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;
    INSERT INTO attribute_stamps (tenant_id, stamp) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;
END;

CREATE TRIGGER attribute_stamps_delete AFTER DELETE ON custom_attributes
BEGIN
    INSERT INTO attribute_stamps (tenant_id, stamp) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;
END;
