//! A full disk on PostgreSQL, simulated: a trigger that raises the server's
//! own disk-full error (SQLSTATE 53100, its message and hint) on every
//! insert or update of the named tables, and the SQL that removes it.

use std::fmt::Write as _;

/// SQL that makes every write of `tables` fail as on a full disk.
#[must_use]
pub fn fill_sql(tables: &[&str]) -> String {
    let mut sql = String::from(
        "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'disk_full',
        MESSAGE = 'could not extend file \"base/16384/16400\": No space left on device',
        HINT = 'Check free disk space.';
END
$$;",
    );
    for table in tables {
        let _ = write!(
            sql,
            "\nCREATE TRIGGER full_disk BEFORE INSERT OR UPDATE ON {table}\n    \
             FOR EACH ROW EXECUTE FUNCTION full_disk();"
        );
    }
    sql
}

/// SQL that undoes [`fill_sql`] of the same `tables`: space is free again.
#[must_use]
pub fn freed_sql(tables: &[&str]) -> String {
    let mut sql = String::new();
    for table in tables {
        let _ = write!(sql, "DROP TRIGGER full_disk ON {table}; ");
    }
    sql.push_str("DROP FUNCTION full_disk();");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_a_table_and_their_removal() {
        let fill = fill_sql(&["customers", "conversations"]);
        assert!(fill.starts_with("CREATE FUNCTION full_disk()"), "{fill}");
        assert!(fill.contains("ERRCODE = 'disk_full'"), "{fill}");
        for table in ["customers", "conversations"] {
            assert!(
                fill.contains(&format!(
                    "CREATE TRIGGER full_disk BEFORE INSERT OR UPDATE ON {table}\n    \
                     FOR EACH ROW EXECUTE FUNCTION full_disk();"
                )),
                "{fill}"
            );
        }
        assert_eq!(
            freed_sql(&["customers", "conversations"]),
            "DROP TRIGGER full_disk ON customers; DROP TRIGGER full_disk ON conversations; \
             DROP FUNCTION full_disk();"
        );
    }
}
