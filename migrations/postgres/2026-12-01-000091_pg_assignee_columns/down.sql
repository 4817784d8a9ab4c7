DROP INDEX conversations_tenant_assignee;
DROP INDEX conversations_tenant_department;
DROP INDEX conversations_tenant_status_assignee;
ALTER TABLE conversations DROP COLUMN assignee_key, DROP COLUMN department_key;
CREATE INDEX conversations_tenant_assignee
    ON conversations (tenant_id, (coalesce((doc ->> 'assigneeId')::bigint, 0)), id);
CREATE INDEX conversations_tenant_department
    ON conversations (tenant_id, (coalesce((doc ->> 'departmentId')::bigint, 0)), id);
CREATE INDEX conversations_tenant_status_assignee
    ON conversations (tenant_id, status, (coalesce((doc ->> 'assigneeId')::bigint, 0)), id);
