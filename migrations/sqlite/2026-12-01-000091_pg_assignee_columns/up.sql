-- Nothing to do on SQLite: it answers counts from its expression indexes
-- (see migrations/postgres of the same name, which adds plain columns).
SELECT 1;
