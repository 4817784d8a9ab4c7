DROP TRIGGER conversation_counts_track_update ON conversations;
DROP TRIGGER conversation_counts_track_insert_delete ON conversations;
DROP FUNCTION conversation_counts_track();
DROP TRIGGER customer_counts_track ON customers;
DROP FUNCTION customer_counts_track();
DROP TABLE conversation_counts;
DROP TABLE customer_counts;
