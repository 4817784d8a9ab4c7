ALTER TABLE outbox ADD COLUMN lease_until BIGINT;
