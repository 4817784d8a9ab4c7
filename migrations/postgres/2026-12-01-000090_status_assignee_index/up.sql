-- Status and assignee together (an agent's open chats, the console's
-- "mine" filter): the page and its total are read from this index alone,
-- instead of every row of the assignee being fetched to test its status.
-- Keep in step with migrations/sqlite (same name, same expression as
-- conversations_tenant_assignee).
CREATE INDEX conversations_tenant_status_assignee
    ON conversations (tenant_id, status, (coalesce((doc ->> 'assigneeId')::bigint, 0)), id);
