-- Nothing to do on SQLite: it plans a kept statement once, without its
-- values, and already reads the pair's rows in id order from
-- (tenant_id, status, assignee_key, id) (see migrations/postgres of the
-- same name).
SELECT 1;
