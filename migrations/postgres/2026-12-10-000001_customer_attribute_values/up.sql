-- A custom attribute equality (`customers.customData.<name> = v`, `in`)
-- looked up in a table of the values, as SQLite has done since
-- 2026-11-30-000040, instead of the GIN index on `customData`. The GIN
-- index (`jsonb_path_ops`) keeps hashes, so every customer it finds was
-- read from the table and checked against its document: for a value 100
-- customers hold, 0.58 of the 0.93 ms a page and its total took. Here the
-- matches, and their count, come from an index-only scan (issue #15;
-- docs/benchmarks.md, "PostgreSQL's custom attribute search from a value
-- table"). `value` is the JSON value itself: 15 equals 15.0, and neither
-- equals "15" (jsonb's own equality). Only scalars are kept, as on SQLite.
--
-- Triggers keep it in step with the documents, hand edits in SQL included:
-- a statement-level trigger on insert (one insert of values however many
-- customers a statement inserts: a bulk import), and a row-level one on an
-- update that changes `customData` (the `WHEN` is tested without calling
-- the function, so other writes of a customer pay only for it). A
-- customer's deletion takes its values by the foreign key.
--
-- The GIN index over `customData` served nothing else (a presence test,
-- `jsonb_exists`, is not one `jsonb_path_ops` answers), so it goes, and
-- with it the GIN update every customer write made. Nodes of an older
-- version still test containment, which then no index serves: upgrade
-- every node (docs/scaling.md).
-- Writes to customers wait while this runs (about 1 s per 100,000
-- customers): a customer written by another node between the backfill
-- and the triggers would otherwise have no values. Reads go on.
LOCK TABLE customers IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE customer_attribute_values (
    tenant_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value JSONB NOT NULL
);

-- The values a customer's document holds: the scalars of `customData`
-- (an SQL function of one SELECT, inlined where it is used).
CREATE FUNCTION customer_attribute_scalars(doc jsonb)
RETURNS TABLE (name text, value jsonb) LANGUAGE sql IMMUTABLE AS $$
    SELECT j.key, j.value
    FROM jsonb_each(CASE WHEN jsonb_typeof(doc -> 'customData') = 'object'
                         THEN doc -> 'customData' END) AS j
    WHERE jsonb_typeof(j.value) IN ('string', 'number', 'boolean')
$$;

INSERT INTO customer_attribute_values (tenant_id, customer_id, name, value)
SELECT c.tenant_id, c.id, a.name, a.value
FROM customers AS c, customer_attribute_scalars(c.doc) AS a;

CREATE INDEX customer_attribute_values_lookup
    ON customer_attribute_values (tenant_id, name, value, customer_id);
-- A hash index, which gives no order: a page of one value reads its ids
-- in customer order from the lookup index, and a plan made for no value
-- (a kept statement's generic plan) once chose a btree on customer_id
-- instead, walking every value row of every customer in that order and
-- testing each. This one serves the trigger's delete and the foreign
-- key's cascade, which look a customer up by equality.
CREATE INDEX customer_attribute_values_customer ON customer_attribute_values
    USING hash (customer_id);

CREATE FUNCTION customer_attribute_values_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_attribute_values (tenant_id, customer_id, name, value)
    SELECT n.tenant_id, n.id, a.name, a.value
    FROM inserted AS n, customer_attribute_scalars(n.doc) AS a;
    RETURN NULL;
END
$$;

CREATE TRIGGER customer_attribute_values_insert AFTER INSERT ON customers
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION customer_attribute_values_inserted();

CREATE FUNCTION customer_attribute_values_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM customer_attribute_values WHERE customer_id = OLD.id;
    INSERT INTO customer_attribute_values (tenant_id, customer_id, name, value)
    SELECT NEW.tenant_id, NEW.id, a.name, a.value
    FROM customer_attribute_scalars(NEW.doc) AS a;
    RETURN NULL;
END
$$;

CREATE TRIGGER customer_attribute_values_update AFTER UPDATE OF doc ON customers
    FOR EACH ROW
    WHEN (OLD.doc -> 'customData' IS DISTINCT FROM NEW.doc -> 'customData')
    EXECUTE FUNCTION customer_attribute_values_updated();

DROP INDEX customers_custom_data_by_tenant;
