-- An agent's chats of a status, planned once. The page in id order was
-- parsed and planned on every request (0.2-0.3 ms, four times its
-- execution): ordered by id, the plan PostgreSQL keeps for every value (a
-- generic plan, estimated for an average pair) may walk another index in
-- id order testing each row, which reads all of an agent's chats when the
-- agent has none of the status, so the statement was not kept. Keyed by
-- (id + 0), this index gives an order no other index gives: a page sorted
-- by id + 0 (crates/switchboard-storage, sql/query.rs, fenced_lookup) is
-- read from the pair's own rows by every plan that does not sort, so it
-- is kept prepared and planned once.
-- Keep in step with migrations/sqlite (same name).
DROP INDEX conversations_tenant_status_assignee_id;
CREATE INDEX conversations_tenant_status_assignee_id
    ON conversations (tenant_id, status, assignee_key, (id + 0));
