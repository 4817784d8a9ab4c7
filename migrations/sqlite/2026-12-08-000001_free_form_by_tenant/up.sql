-- Nothing to do on SQLite: custom attribute and custom info equality are
-- looked up in customer_attribute_values and conversation_info_values,
-- keyed by tenant already, and SQLite plans a kept statement once (see
-- migrations/postgres of the same name).
SELECT 1;
