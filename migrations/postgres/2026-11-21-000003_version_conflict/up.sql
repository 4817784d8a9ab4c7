-- Raised by an update-and-record statement whose UPDATE matched no row
-- (another writer changed it first). SQLSTATE 40001 aborts the whole
-- statement, outbox and history inserts included, so the statement is
-- atomic on its own and needs no surrounding transaction; the caller sees a
-- serialization failure and retries.
CREATE FUNCTION switchboard_version_conflict() RETURNS integer
    LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = '40001', MESSAGE = 'the row changed since it was read';
END
$$;
