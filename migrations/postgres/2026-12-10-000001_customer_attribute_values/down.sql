CREATE INDEX customers_custom_data_by_tenant ON customers USING gin
    ((jsonb_set('{}', ARRAY[tenant_id::text], doc -> 'customData')) jsonb_path_ops);
DROP TRIGGER customer_attribute_values_update ON customers;
DROP FUNCTION customer_attribute_values_updated();
DROP TRIGGER customer_attribute_values_insert ON customers;
DROP FUNCTION customer_attribute_values_inserted();
DROP TABLE customer_attribute_values;
DROP FUNCTION customer_attribute_scalars(jsonb);
