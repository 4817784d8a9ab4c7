-- A chat page in one statement on PostgreSQL, as on SQLite: the page's
-- rows with each one's contact (the linked customer's name, exact email,
-- phone, company and country code) and the tenant's directory stamp.
--
-- 1. The contact's members as stored generated columns, named as SQLite's
--    (2026-12-09-000001): a page joins its rows' customers and reads them
--    as plain columns. Read from the document (one jsonb_to_record a
--    customer, in the page's statement or in one of their own), they made
--    joining the contacts cost more than a second statement did
--    (docs/benchmarks.md, "A chat page in one statement"); read as
--    columns, the page with its contacts costs PostgreSQL about a third
--    less than the page and its links apart ("Contacts as columns on
--    PostgreSQL"). Adding them rewrites `customers` once, under its lock:
--    about 3 s for 200,000 customers on the benchmark host.
-- 2. A per-tenant stamp of the directory (agents and departments), kept by
--    triggers: every insert, delete, or change of a column a
--    conversation's links show (not an agent's console password) counts it
--    up, in the writing transaction. A node keeps a copy of each tenant's
--    directory with the stamp it was read at; a chat page's statement
--    selects the stamp itself (one primary-key lookup, an InitPlan run once
--    a statement), and the copy serves the page's agents and departments
--    only while the two are equal (`crate::directory`): every node checks
--    against the database, no NOTIFY is needed. Directory writes of one
--    tenant queue on its stamp row until they commit; they are rare
--    administrative writes. Rows are never deleted (not even with their
--    tenant, whose id is never reused), so a stamp never goes back to a
--    value a copy may hold.
ALTER TABLE customers
    ADD COLUMN contact_name TEXT GENERATED ALWAYS AS (doc ->> 'name') STORED,
    ADD COLUMN contact_email TEXT GENERATED ALWAYS AS (doc ->> 'email') STORED,
    ADD COLUMN contact_phone TEXT GENERATED ALWAYS AS (doc ->> 'phone') STORED,
    ADD COLUMN contact_company TEXT GENERATED ALWAYS AS (doc ->> 'company') STORED,
    ADD COLUMN contact_country TEXT
        GENERATED ALWAYS AS (doc -> 'location' ->> 'countryCode') STORED;

CREATE TABLE directory_stamps (
    tenant_id BIGINT PRIMARY KEY,
    stamp BIGINT NOT NULL
);

INSERT INTO directory_stamps (tenant_id, stamp)
SELECT tenant_id, 1 FROM agents UNION SELECT tenant_id, 1 FROM departments;

CREATE FUNCTION directory_stamp_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO directory_stamps AS s (tenant_id, stamp) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET stamp = s.stamp + 1;
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.tenant_id <> OLD.tenant_id) THEN
        INSERT INTO directory_stamps AS s (tenant_id, stamp) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET stamp = s.stamp + 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER directory_stamps_agents
AFTER INSERT OR DELETE OR UPDATE OF tenant_id, name, email, role ON agents
FOR EACH ROW EXECUTE FUNCTION directory_stamp_bump();

CREATE TRIGGER directory_stamps_departments
AFTER INSERT OR DELETE OR UPDATE OF tenant_id, name ON departments
FOR EACH ROW EXECUTE FUNCTION directory_stamp_bump();
