-- The console's inbox lists an agent's conversations of a status ("mine",
-- opened) newest activity first. With the status + assignee index ending in
-- the id, every page read all of those rows (5,000 of a million) to sort
-- them by updated_at (p99 127 ms at a million on SQLite); ending in
-- (updated_at, id) they come in the inbox's order, and a page reads its 50
-- entries. Searches sorted by id still count and find their rows here.
-- Keep in step with migrations/postgres (same name).
DROP INDEX conversations_tenant_status_assignee;
CREATE INDEX conversations_tenant_status_assignee
    ON conversations (tenant_id, status, coalesce(json_extract(doc, '$.assigneeId'), 0), updated_at, id);
