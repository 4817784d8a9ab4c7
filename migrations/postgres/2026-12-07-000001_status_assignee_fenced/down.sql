DROP INDEX conversations_tenant_status_assignee_id;
CREATE INDEX conversations_tenant_status_assignee_id
    ON conversations (tenant_id, status, assignee_key, id);
