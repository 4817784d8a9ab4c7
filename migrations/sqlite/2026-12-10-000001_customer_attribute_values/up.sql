-- Nothing to do on SQLite: it has kept customer_attribute_values since
-- 2026-11-30-000040 (see migrations/postgres of the same name).
SELECT 1;
