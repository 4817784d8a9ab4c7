-- A customer's contact members (name, exact email, phone, company, country
-- code) as stored generated columns. A page of chats links each chat to its
-- contact, and SQLite read those members with json_extract, which parses the
-- whole document of every contact on every page: a quarter of what a
-- 20-chat page cost the store, and more the more custom data a customer
-- holds. Stored, they are extracted once per write and read as plain
-- columns. (The user id has its own column already; `email` is the
-- lowercased key of the email index, so the exact email is a column of its
-- own.) The values are what json_extract returned: text for a JSON string,
-- NULL for null or absent.
--
-- SQLite adds stored generated columns only to a new table, so the table is
-- rebuilt with its documented procedure, as 2026-11-30-000020 did: foreign
-- keys off (outside a transaction; see metadata.toml), then in one
-- transaction: create the new table, copy the rows with their ids, keep the
-- AUTOINCREMENT counter, drop the old table, rename the new one, recreate
-- its indexes and triggers; check the foreign keys; commit. PostgreSQL
-- reads the members with one jsonb_to_record per contact instead: its
-- migration of the same name changes nothing.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE new_customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT,
    email TEXT,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    contact_name TEXT GENERATED ALWAYS AS (json_extract(doc, '$.name')) STORED,
    contact_email TEXT GENERATED ALWAYS AS (json_extract(doc, '$.email')) STORED,
    contact_phone TEXT GENERATED ALWAYS AS (json_extract(doc, '$.phone')) STORED,
    contact_company TEXT GENERATED ALWAYS AS (json_extract(doc, '$.company')) STORED,
    contact_country TEXT
        GENERATED ALWAYS AS (json_extract(doc, '$.location.countryCode')) STORED,
    UNIQUE (tenant_id, user_id)
);
INSERT INTO new_customers (id, tenant_id, user_id, email, doc, created_at, updated_at, version)
    SELECT id, tenant_id, user_id, email, doc, created_at, updated_at, version FROM customers;
-- The counter of ids ever given, which may be above every id left (the
-- newest customer deleted): the new table's would start from the ids copied.
CREATE TEMP TABLE switchboard_customer_ids AS
    SELECT seq FROM sqlite_sequence WHERE name = 'customers';
DROP TABLE customers;
ALTER TABLE new_customers RENAME TO customers;
DELETE FROM sqlite_sequence WHERE name = 'customers';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'customers', seq FROM temp.switchboard_customer_ids;
DROP TABLE temp.switchboard_customer_ids;

CREATE INDEX customers_tenant_created ON customers (tenant_id, created_at, id);
CREATE INDEX customers_tenant_email ON customers (tenant_id, email);
CREATE INDEX customers_tenant_first_seen
    ON customers (tenant_id, coalesce(json_extract(doc, '$.firstSeen'), -1), id);
CREATE INDEX customers_tenant_id ON customers (tenant_id, id);
CREATE INDEX customers_tenant_last_seen
    ON customers (tenant_id, coalesce(json_extract(doc, '$.lastSeen'), -1), id);
CREATE INDEX customers_tenant_updated ON customers (tenant_id, updated_at, id);
CREATE TRIGGER customer_attribute_values_insert AFTER INSERT ON customers
BEGIN
    INSERT INTO customer_attribute_values (tenant_id, customer_id, name, value)
    SELECT NEW.tenant_id, NEW.id, j.key,
           CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE j.atom END
    FROM json_each(NEW.doc, '$.customData') AS j
    WHERE j.type IN ('text', 'integer', 'real', 'true', 'false');
END;
CREATE TRIGGER customer_attribute_values_update AFTER UPDATE OF doc ON customers
WHEN json_extract(OLD.doc, '$.customData') IS NOT json_extract(NEW.doc, '$.customData')
BEGIN
    DELETE FROM customer_attribute_values WHERE customer_id = OLD.id;
    INSERT INTO customer_attribute_values (tenant_id, customer_id, name, value)
    SELECT NEW.tenant_id, NEW.id, j.key,
           CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE j.atom END
    FROM json_each(NEW.doc, '$.customData') AS j
    WHERE j.type IN ('text', 'integer', 'real', 'true', 'false');
END;
CREATE TRIGGER customer_counts_delete AFTER DELETE ON customers
BEGIN
    INSERT INTO customer_counts (tenant_id, n) VALUES (OLD.tenant_id, -1);
END;
CREATE TRIGGER customer_counts_insert AFTER INSERT ON customers
BEGIN
    INSERT INTO customer_counts (tenant_id, n) VALUES (NEW.tenant_id, 1);
END;

-- Step 10 of the procedure: no foreign key may point nowhere. A violation
-- fails the CHECK below, which rolls the whole migration back.
CREATE TEMP TABLE switchboard_foreign_key_check (
    violations INTEGER NOT NULL CHECK (violations = 0)
);
INSERT INTO switchboard_foreign_key_check SELECT COUNT(*) FROM pragma_foreign_key_check;
DROP TABLE switchboard_foreign_key_check;

COMMIT;
PRAGMA foreign_keys = ON;
