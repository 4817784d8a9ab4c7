-- The running counts, read by index in every plan (issue #15). A page
-- with its total sums the tenant's rows of a counts table. With the page's
-- limit in the statement's text, PostgreSQL keeps one plan for every
-- tenant (a generic plan), estimated for an average tenant: with two
-- tenants, half the table, which it read whole (a Seq Scan over
-- customer_counts in the plan test) where the plans made for a known
-- tenant used the index. Rows are added per write and folded only when a
-- tenant's total is read, so one tenant that never reads totals can hold
-- most of the table. Telling the planner that a tenant holds about two
-- rows makes every plan that does not know the tenant take the index; a
-- plan made for a known tenant still uses the tenant's own statistics
-- (its most common values), and reading a big tenant's rows by the
-- covering index costs about what reading them in the table would.
-- Takes effect at the next ANALYZE (autovacuum's or the import's).
-- Keep in step with migrations/sqlite (same name).
ALTER TABLE customer_counts ALTER COLUMN tenant_id SET (n_distinct = -0.5);
ALTER TABLE conversation_counts ALTER COLUMN tenant_id SET (n_distinct = -0.5);
