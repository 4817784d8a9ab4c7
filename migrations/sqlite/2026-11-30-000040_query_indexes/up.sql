-- Indexes for listing, searching and paging customers and conversations
-- (issue 15). Keep in step with migrations/postgres: same index names, the
-- same expressions in SQLite's JSON functions. Every sort of a query is
-- (tenant_id, key, id), so a page walk is an index range scan; nullable
-- keys are COALESCEd below every real value (ids: 0, times: -1), the
-- expression the queries use (`crates/switchboard-storage/src/sql/query.rs`).
CREATE INDEX customers_tenant_id ON customers (tenant_id, id);
CREATE INDEX customers_tenant_created ON customers (tenant_id, created_at, id);
CREATE INDEX customers_tenant_updated ON customers (tenant_id, updated_at, id);
CREATE INDEX customers_tenant_first_seen
    ON customers (tenant_id, coalesce(json_extract(doc, '$.firstSeen'), -1), id);
CREATE INDEX customers_tenant_last_seen
    ON customers (tenant_id, coalesce(json_extract(doc, '$.lastSeen'), -1), id);

CREATE INDEX conversations_tenant_id ON conversations (tenant_id, id);
CREATE INDEX conversations_tenant_assignee
    ON conversations (tenant_id, coalesce(json_extract(doc, '$.assigneeId'), 0), id);
CREATE INDEX conversations_tenant_department
    ON conversations (tenant_id, coalesce(json_extract(doc, '$.departmentId'), 0), id);
CREATE INDEX conversations_tenant_created ON conversations (tenant_id, created_at, id);
CREATE INDEX conversations_tenant_updated ON conversations (tenant_id, updated_at, id);
CREATE INDEX conversations_tenant_closed
    ON conversations (tenant_id, coalesce(json_extract(doc, '$.closedAt'), -1), id);
CREATE INDEX conversations_tenant_visitor_email ON conversations (tenant_id, visitor_email);

-- Custom attribute equality. SQLite cannot index a document's keys (an
-- expression index holds one entry per row, and attribute names are data),
-- so each scalar customData value is also a row here, kept in step with
-- the document by triggers. PostgreSQL indexes the document itself (GIN)
-- and has no such table. `value` has no declared type: it keeps the JSON
-- value's storage class (integer, real or text; booleans as the text
-- 'true'/'false'), so 15 and 15.0 compare equal and 15 and '15' do not.
CREATE TABLE customer_attribute_values (
    tenant_id BIGINT NOT NULL,
    customer_id BIGINT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value NOT NULL
);
CREATE INDEX customer_attribute_values_lookup
    ON customer_attribute_values (tenant_id, name, value, customer_id);
CREATE INDEX customer_attribute_values_customer ON customer_attribute_values (customer_id);

INSERT INTO customer_attribute_values (tenant_id, customer_id, name, value)
SELECT c.tenant_id, c.id, j.key,
       CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE j.atom END
FROM customers AS c, json_each(c.doc, '$.customData') AS j
WHERE j.type IN ('text', 'integer', 'real', 'true', 'false');

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
