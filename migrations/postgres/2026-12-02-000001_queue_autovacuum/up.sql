-- The outbox and the deliveries are queues: every event and delivery is
-- written pending and updated once done, which leaves an entry in the
-- pending index (outbox_pending, deliveries_due) pointing at a dead row
-- version until a vacuum removes it. Takes use plain index scans, which
-- skip entries they have seen dead, but still walk the index pages those
-- entries fill. Autovacuum's default waits for a fifth of the table to
-- change, which for a retained outbox of millions of events means hundreds
-- of thousands of dead entries; vacuum these two tables after every 10,000
-- changed rows instead.
ALTER TABLE outbox SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 10000
);
ALTER TABLE deliveries SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 10000
);
