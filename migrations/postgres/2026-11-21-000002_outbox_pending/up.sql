-- The delivery worker claims the oldest unprocessed events in id order.
-- `outbox_due (processed_at, available_at, id)` could not give that order, so
-- every claim read and sorted all pending rows (and the dead index entries the
-- previous claims left behind). This partial index holds only pending rows in
-- id order, so a claim stops after `limit` of them, and processing an event
-- no longer adds an entry to a second index.
DROP INDEX outbox_due;
CREATE INDEX outbox_pending ON outbox (id) WHERE processed_at IS NULL;
-- The outbox is a queue: vacuum it early so dead pending entries are removed
-- while they are few.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01);
