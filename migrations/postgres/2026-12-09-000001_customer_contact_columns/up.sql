-- Nothing to do on PostgreSQL: it reads a customer's contact members from
-- its binary jsonb without a parse (see migrations/sqlite of the same name,
-- which stores them as generated columns).
SELECT 1;
