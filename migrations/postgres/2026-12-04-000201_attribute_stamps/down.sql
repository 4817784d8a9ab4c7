-- Nothing to do on PostgreSQL: a change of a tenant's custom attribute
-- definitions is announced to every node by NOTIFY from the writing
-- transaction (`Change::AttributesChanged`). SQLite has no notifications
-- between processes and keeps a trigger-kept stamp instead (see
-- migrations/sqlite of the same name).
SELECT 1;
