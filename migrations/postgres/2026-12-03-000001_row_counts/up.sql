-- Exact totals without counting rows (issue #15); see the SQLite migration
-- of the same name for why. Rows are added, never updated, so concurrent
-- writers never wait on a shared counter row.
CREATE TABLE customer_counts (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    n BIGINT NOT NULL
);
CREATE INDEX customer_counts_tenant ON customer_counts (tenant_id, n);

CREATE TABLE conversation_counts (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    status TEXT NOT NULL,
    assignee_key BIGINT NOT NULL,
    department_key BIGINT NOT NULL,
    n BIGINT NOT NULL
);
CREATE INDEX conversation_counts_tenant
    ON conversation_counts (tenant_id, status, assignee_key, department_key, n);

INSERT INTO customer_counts (tenant_id, n)
SELECT tenant_id, count(*) FROM customers GROUP BY tenant_id;

INSERT INTO conversation_counts (tenant_id, status, assignee_key, department_key, n)
SELECT tenant_id, status, assignee_key, department_key, count(*)
FROM conversations GROUP BY 1, 2, 3, 4;

-- Inserts and deletes are counted per statement, from the statement's
-- transition table: a bulk import of 5,000 rows adds one row here, not
-- 5,000 (which would leave as many dead rows after the fold).
CREATE FUNCTION customer_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_counts (tenant_id, n)
    SELECT tenant_id, count(*) FROM changed GROUP BY tenant_id;
    RETURN NULL;
END $$;

CREATE FUNCTION customer_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_counts (tenant_id, n)
    SELECT tenant_id, -count(*) FROM changed GROUP BY tenant_id;
    RETURN NULL;
END $$;

CREATE TRIGGER customer_counts_inserted AFTER INSERT ON customers
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION customer_counts_inserted();

CREATE TRIGGER customer_counts_deleted AFTER DELETE ON customers
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION customer_counts_deleted();

CREATE FUNCTION conversation_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO conversation_counts (tenant_id, status, assignee_key, department_key, n)
    SELECT tenant_id, status, assignee_key, department_key, count(*)
    FROM changed GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END $$;

CREATE FUNCTION conversation_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO conversation_counts (tenant_id, status, assignee_key, department_key, n)
    SELECT tenant_id, status, assignee_key, department_key, -count(*)
    FROM changed GROUP BY 1, 2, 3, 4;
    RETURN NULL;
END $$;

CREATE TRIGGER conversation_counts_inserted AFTER INSERT ON conversations
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION conversation_counts_inserted();

CREATE TRIGGER conversation_counts_deleted AFTER DELETE ON conversations
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION conversation_counts_deleted();

-- A change of group is counted per row, and only then: the hot path's
-- updates (a patch of anything else) skip the function by the WHEN.
CREATE FUNCTION conversation_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO conversation_counts (tenant_id, status, assignee_key, department_key, n)
    VALUES (OLD.tenant_id, OLD.status, OLD.assignee_key, OLD.department_key, -1),
           (NEW.tenant_id, NEW.status, NEW.assignee_key, NEW.department_key, 1);
    RETURN NULL;
END $$;

CREATE TRIGGER conversation_counts_moved AFTER UPDATE ON conversations
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.assignee_key IS DISTINCT FROM NEW.assignee_key
          OR OLD.department_key IS DISTINCT FROM NEW.department_key)
    EXECUTE FUNCTION conversation_counts_moved();

-- Folds delete rows: vacuum the counts as often as the queues
-- (2026-12-02-000001), so sums do not walk dead rows.
ALTER TABLE customer_counts SET (autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_scale_factor = 0, autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0);
ALTER TABLE conversation_counts SET (autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_scale_factor = 0, autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0);
