-- An event's payload and diff and a history row's actor and diff are read
-- back whole and never searched by content, so they are kept as the JSON
-- text written (`json`) instead of `jsonb` (issue #18). PostgreSQL still
-- checks their syntax on the way in, but no longer builds a `jsonb` tree
-- (every object's members sorted) for each: that parse was about a tenth
-- of a write's database CPU (docs/benchmarks.md). Documents stay `jsonb`.
--
-- The change rewrites both tables once, holding an exclusive lock on each
-- while it does (docs/scaling.md, "Upgrading").
ALTER TABLE outbox
    ALTER COLUMN payload TYPE json USING payload::json,
    ALTER COLUMN diff TYPE json USING diff::json;
ALTER TABLE change_history
    ALTER COLUMN actor TYPE json USING actor::json,
    ALTER COLUMN diff TYPE json USING diff::json;
