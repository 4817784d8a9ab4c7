-- An agent's chats of a status in id order: HelpCrunch's chat search and
-- list sort by id unless told otherwise. Since 2026-12-02-000002 the
-- status + assignee index ends in (updated_at, id), the console inbox's
-- order, so a page in id order either read every match of the pair to
-- sort them, or walked the agent's chats in id order testing each one's
-- status. The planner chooses between those by estimates that take the
-- two columns as independent, and walked all of an agent's chats to find
-- a status the agent has none or few of (2,000 rows for no match at
-- 100,000 conversations). With the id right after the pair, a page reads
-- its own rows, in order, whatever the pair.
-- Keep in step with migrations/sqlite (same name).
CREATE INDEX conversations_tenant_status_assignee_id
    ON conversations (tenant_id, status, assignee_key, id);
