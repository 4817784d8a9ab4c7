ALTER TABLE change_history
    ALTER COLUMN actor TYPE jsonb USING actor::jsonb,
    ALTER COLUMN diff TYPE jsonb USING diff::jsonb;
ALTER TABLE outbox
    ALTER COLUMN payload TYPE jsonb USING payload::jsonb,
    ALTER COLUMN diff TYPE jsonb USING diff::jsonb;
