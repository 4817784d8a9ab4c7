DROP TRIGGER outbox_unmatched;
