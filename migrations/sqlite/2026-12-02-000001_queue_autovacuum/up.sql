-- Nothing to do on SQLite: it has no autovacuum thresholds (see
-- migrations/postgres of the same name).
SELECT 1;
