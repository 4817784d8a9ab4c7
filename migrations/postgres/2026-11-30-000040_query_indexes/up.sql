-- Indexes for listing, searching and paging customers and conversations
-- (issue 15). Keep in step with migrations/sqlite: same index names, the
-- same expressions in PostgreSQL's JSON operators. Every sort of a query is
-- (tenant_id, key, id), so a page walk is an index range scan; nullable
-- keys are COALESCEd below every real value (ids: 0, times: -1), the
-- expression the queries use (`crates/switchboard-storage/src/sql/query.rs`).
CREATE INDEX customers_tenant_id ON customers (tenant_id, id);
CREATE INDEX customers_tenant_created ON customers (tenant_id, created_at, id);
CREATE INDEX customers_tenant_updated ON customers (tenant_id, updated_at, id);
CREATE INDEX customers_tenant_first_seen
    ON customers (tenant_id, (coalesce((doc ->> 'firstSeen')::bigint, -1)), id);
CREATE INDEX customers_tenant_last_seen
    ON customers (tenant_id, (coalesce((doc ->> 'lastSeen')::bigint, -1)), id);
-- Custom attribute equality: containment (`@>`) in the customData document.
CREATE INDEX customers_custom_data ON customers USING gin ((doc -> 'customData') jsonb_path_ops);

CREATE INDEX conversations_tenant_id ON conversations (tenant_id, id);
CREATE INDEX conversations_tenant_assignee
    ON conversations (tenant_id, (coalesce((doc ->> 'assigneeId')::bigint, 0)), id);
CREATE INDEX conversations_tenant_department
    ON conversations (tenant_id, (coalesce((doc ->> 'departmentId')::bigint, 0)), id);
CREATE INDEX conversations_tenant_created ON conversations (tenant_id, created_at, id);
CREATE INDEX conversations_tenant_updated ON conversations (tenant_id, updated_at, id);
CREATE INDEX conversations_tenant_closed
    ON conversations (tenant_id, (coalesce((doc ->> 'closedAt')::bigint, -1)), id);
CREATE INDEX conversations_tenant_visitor_email ON conversations (tenant_id, visitor_email);
-- Custom info equality: containment (`@>`) in the customInfo document.
CREATE INDEX conversations_custom_info
    ON conversations USING gin ((doc -> 'customInfo') jsonb_path_ops);
