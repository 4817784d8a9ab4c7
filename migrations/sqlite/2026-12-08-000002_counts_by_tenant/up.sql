-- Nothing to do on SQLite: it keeps no per-column estimates to override
-- (see migrations/postgres of the same name).
SELECT 1;
