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

CREATE FUNCTION customer_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO customer_counts (tenant_id, n) VALUES (NEW.tenant_id, 1);
    ELSE
        INSERT INTO customer_counts (tenant_id, n) VALUES (OLD.tenant_id, -1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER customer_counts_track AFTER INSERT OR DELETE ON customers
    FOR EACH ROW EXECUTE FUNCTION customer_counts_track();

CREATE FUNCTION conversation_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO conversation_counts (tenant_id, status, assignee_key, department_key, n)
        VALUES (OLD.tenant_id, OLD.status, OLD.assignee_key, OLD.department_key, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO conversation_counts (tenant_id, status, assignee_key, department_key, n)
        VALUES (NEW.tenant_id, NEW.status, NEW.assignee_key, NEW.department_key, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER conversation_counts_track_insert_delete AFTER INSERT OR DELETE ON conversations
    FOR EACH ROW EXECUTE FUNCTION conversation_counts_track();

-- Only a change of group counts; other updates skip the function.
CREATE TRIGGER conversation_counts_track_update AFTER UPDATE ON conversations
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.assignee_key IS DISTINCT FROM NEW.assignee_key
          OR OLD.department_key IS DISTINCT FROM NEW.department_key)
    EXECUTE FUNCTION conversation_counts_track();
