DROP INDEX conversations_tenant_status_assignee;
CREATE INDEX conversations_tenant_status_assignee
    ON conversations (tenant_id, status, assignee_key, id);
