-- The live nodes of a deployment (issue 17): each `switchboard serve`
-- process upserts its row every second; those seen within the last few
-- seconds share the per-key rate limits. Keep in step with the other tree.
CREATE TABLE nodes (
    id TEXT PRIMARY KEY NOT NULL,
    seen_at BIGINT NOT NULL
);
