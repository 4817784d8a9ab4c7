-- Exact totals without counting rows (issue #15). A HelpCrunch list or
-- search answers its total (`meta.total`) with every page; counting a
-- million customers for it read the whole index (70 ms), and an agent's
-- open chats 10,000 entries. Each insert and delete of a customer, and each
-- insert, delete and change of group (status, assignee, department) of a
-- conversation, adds a +1/-1 row here, by trigger, so no writer path can
-- forget it; a total is the sum of a tenant's rows. Adding rows instead of
-- updating one counter keeps concurrent writers off a shared row. The store
-- folds a tenant's rows into one per group when they pile up
-- (`sql::counts::compact`). No foreign key to tenants: deleting a tenant
-- cascades to its rows, whose triggers add rows for it here.
CREATE TABLE customer_counts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL,
    n BIGINT NOT NULL
);
CREATE INDEX customer_counts_tenant ON customer_counts (tenant_id, n);

CREATE TABLE conversation_counts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
SELECT tenant_id, status,
       coalesce(json_extract(doc, '$.assigneeId'), 0),
       coalesce(json_extract(doc, '$.departmentId'), 0),
       count(*)
FROM conversations GROUP BY 1, 2, 3, 4;

CREATE TRIGGER customer_counts_insert AFTER INSERT ON customers
BEGIN
    INSERT INTO customer_counts (tenant_id, n) VALUES (NEW.tenant_id, 1);
END;

CREATE TRIGGER customer_counts_delete AFTER DELETE ON customers
BEGIN
    INSERT INTO customer_counts (tenant_id, n) VALUES (OLD.tenant_id, -1);
END;

CREATE TRIGGER conversation_counts_insert AFTER INSERT ON conversations
BEGIN
    INSERT INTO conversation_counts (tenant_id, status, assignee_key, department_key, n)
    VALUES (NEW.tenant_id, NEW.status,
            coalesce(json_extract(NEW.doc, '$.assigneeId'), 0),
            coalesce(json_extract(NEW.doc, '$.departmentId'), 0), 1);
END;

CREATE TRIGGER conversation_counts_delete AFTER DELETE ON conversations
BEGIN
    INSERT INTO conversation_counts (tenant_id, status, assignee_key, department_key, n)
    VALUES (OLD.tenant_id, OLD.status,
            coalesce(json_extract(OLD.doc, '$.assigneeId'), 0),
            coalesce(json_extract(OLD.doc, '$.departmentId'), 0), -1);
END;

CREATE TRIGGER conversation_counts_update AFTER UPDATE OF status, doc ON conversations
WHEN OLD.status IS NOT NEW.status
  OR coalesce(json_extract(OLD.doc, '$.assigneeId'), 0)
     IS NOT coalesce(json_extract(NEW.doc, '$.assigneeId'), 0)
  OR coalesce(json_extract(OLD.doc, '$.departmentId'), 0)
     IS NOT coalesce(json_extract(NEW.doc, '$.departmentId'), 0)
BEGIN
    INSERT INTO conversation_counts (tenant_id, status, assignee_key, department_key, n)
    VALUES (OLD.tenant_id, OLD.status,
            coalesce(json_extract(OLD.doc, '$.assigneeId'), 0),
            coalesce(json_extract(OLD.doc, '$.departmentId'), 0), -1),
           (NEW.tenant_id, NEW.status,
            coalesce(json_extract(NEW.doc, '$.assigneeId'), 0),
            coalesce(json_extract(NEW.doc, '$.departmentId'), 0), 1);
END;

-- A later migration that rebuilds `customers` or `conversations` (SQLite's
-- way to change a table) drops these triggers with the old table: it must
-- create them again.
