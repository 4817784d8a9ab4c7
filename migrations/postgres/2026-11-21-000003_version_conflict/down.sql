DROP FUNCTION switchboard_version_conflict();
