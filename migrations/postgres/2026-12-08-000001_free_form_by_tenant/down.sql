CREATE INDEX customers_custom_data ON customers USING gin ((doc -> 'customData') jsonb_path_ops);
DROP INDEX customers_custom_data_by_tenant;
CREATE INDEX conversations_custom_info ON conversations USING gin ((doc -> 'customInfo') jsonb_path_ops);
DROP INDEX conversations_custom_info_by_tenant;
