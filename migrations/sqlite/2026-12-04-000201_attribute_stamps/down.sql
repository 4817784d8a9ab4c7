DROP TRIGGER attribute_stamps_delete;
DROP TRIGGER attribute_stamps_update;
DROP TRIGGER attribute_stamps_insert;
DROP TABLE attribute_stamps;
