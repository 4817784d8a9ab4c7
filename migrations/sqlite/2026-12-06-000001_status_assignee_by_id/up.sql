-- An agent's chats of a status in id order: HelpCrunch's chat search and
-- list sort by id unless told otherwise. Since 2026-12-02-000002 the
-- status + assignee index ends in (updated_at, id), the console inbox's
-- order, so a page in id order either read every match of the pair to
-- sort them, or walked the agent's chats in id order testing each one's
-- status, for a status the agent has none or few of all of them. With the
-- id right after the pair, a page reads its own rows, in order, whatever
-- the pair.
-- Keep in step with migrations/postgres (same name, same expression as
-- conversations_tenant_assignee).
CREATE INDEX conversations_tenant_status_assignee_id
    ON conversations (tenant_id, status, coalesce(json_extract(doc, '$.assigneeId'), 0), id);
