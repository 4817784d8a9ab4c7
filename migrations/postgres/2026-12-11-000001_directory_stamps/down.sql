DROP TRIGGER directory_stamps_departments ON departments;
DROP TRIGGER directory_stamps_agents ON agents;
DROP FUNCTION directory_stamp_bump();
DROP TABLE directory_stamps;
