-- Nothing to do on PostgreSQL: custom info equality is served by the GIN
-- index conversations_custom_info over the document. SQLite cannot index a
-- document's keys and keeps a trigger-kept table instead (see
-- migrations/sqlite of the same name).
SELECT 1;
