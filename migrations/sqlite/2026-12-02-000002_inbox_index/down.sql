DROP INDEX conversations_tenant_status_assignee;
CREATE INDEX conversations_tenant_status_assignee
    ON conversations (tenant_id, status, coalesce(json_extract(doc, '$.assigneeId'), 0), id);
