ALTER TABLE customer_counts ALTER COLUMN tenant_id RESET (n_distinct);
ALTER TABLE conversation_counts ALTER COLUMN tenant_id RESET (n_distinct);
