-- An event that no subscription matches when it is committed is done at
-- once (issue #18). Fan-out delivers an event to the tenant's active
-- subscriptions of its type created no later than the event; when there is
-- none at insert, nothing can ever match it, yet the worker used to take it
-- in a transaction of its own (a commit, an fsync, a dead entry in the
-- pending index) only to mark it processed. The row stays: it is the
-- Zapier samples' and the console's record. A subscription committed while
-- the event's statement runs is concurrent with it either way; on SQLite,
-- with one writer, there is no such case. Keep in step with
-- migrations/sqlite.
CREATE FUNCTION outbox_unmatched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.processed_at IS NULL AND NOT EXISTS (
        SELECT 1 FROM webhook_subscriptions s
        WHERE s.tenant_id = NEW.tenant_id
          AND s.event = NEW.event_type
          AND s.state = 'active'
    ) THEN
        NEW.processed_at := NEW.created_at;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER outbox_unmatched BEFORE INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION outbox_unmatched();
