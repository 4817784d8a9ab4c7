DROP TRIGGER outbox_unmatched ON outbox;
DROP FUNCTION outbox_unmatched();
