DROP TRIGGER directory_stamps_departments ON departments;
DROP TRIGGER directory_stamps_agents ON agents;
DROP FUNCTION directory_stamp_bump();
DROP TABLE directory_stamps;
ALTER TABLE customers
    DROP COLUMN contact_country,
    DROP COLUMN contact_company,
    DROP COLUMN contact_phone,
    DROP COLUMN contact_email,
    DROP COLUMN contact_name;
