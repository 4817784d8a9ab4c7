-- An outbox event the delivery worker cannot fan out (its payload cannot be
-- read back, for example) is retried a few times and then quarantined
-- (dead-lettered), so that it never holds up the events after it.
-- `fan_out_failures` counts the failed tries, `last_error` says why the last
-- one failed, and `quarantined_at` is set when the event is set aside: it
-- stays unprocessed, out of the pending index, until an operator requeues it
-- (`switchboard outbox requeue`).
ALTER TABLE outbox ADD COLUMN fan_out_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN quarantined_at BIGINT;
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE processed_at IS NULL AND quarantined_at IS NULL;
CREATE INDEX outbox_quarantined ON outbox (id) WHERE quarantined_at IS NOT NULL;
