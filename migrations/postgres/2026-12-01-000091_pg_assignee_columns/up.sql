-- The assignee and department of a conversation as stored generated
-- columns, so their indexes hold plain columns. PostgreSQL cannot answer a
-- query from an index on an expression alone (an index-only scan needs the
-- expression's column, here the whole document): a count of an agent's open
-- chats read every matching row from the table. On plain columns the count
-- is read from the index (pages marked all-visible by (auto)vacuum).
-- SQLite answers from its expression indexes already: its migration of the
-- same name changes nothing. The values are the expressions of
-- 2026-11-30-000040 (0 when unset), which the queries now name by column.
ALTER TABLE conversations
    ADD COLUMN assignee_key BIGINT NOT NULL
        GENERATED ALWAYS AS (coalesce((doc ->> 'assigneeId')::bigint, 0)) STORED,
    ADD COLUMN department_key BIGINT NOT NULL
        GENERATED ALWAYS AS (coalesce((doc ->> 'departmentId')::bigint, 0)) STORED;

DROP INDEX conversations_tenant_assignee;
DROP INDEX conversations_tenant_department;
DROP INDEX conversations_tenant_status_assignee;
CREATE INDEX conversations_tenant_assignee ON conversations (tenant_id, assignee_key, id);
CREATE INDEX conversations_tenant_department ON conversations (tenant_id, department_key, id);
CREATE INDEX conversations_tenant_status_assignee
    ON conversations (tenant_id, status, assignee_key, id);
