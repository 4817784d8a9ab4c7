//! Faults a test injects into a database.

use std::fmt::Write as _;

/// PostgreSQL's own disk-full error (SQLSTATE 53100, with its message and
/// hint), raised by triggers on some writes of some tables: what a full
/// disk does to those writes.
#[derive(Debug, Clone)]
pub struct PgDiskFull {
    writes: &'static str,
    tables: Vec<&'static str>,
}

impl PgDiskFull {
    /// The error on `writes` (`"INSERT"`, `"INSERT OR UPDATE"`) of each of
    /// `tables`.
    pub fn new(writes: &'static str, tables: &[&'static str]) -> Self {
        Self {
            writes,
            tables: tables.to_vec(),
        }
    }

    /// The SQL that fills the disk: it installs the triggers.
    pub fn fill(&self) -> String {
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
        for table in &self.tables {
            let _ = write!(
                sql,
                "\nCREATE TRIGGER full_disk BEFORE {} ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION full_disk();",
                self.writes
            );
        }
        sql
    }

    /// The SQL that frees the space again: it drops the triggers.
    pub fn free(&self) -> String {
        let mut sql = String::new();
        for table in &self.tables {
            let _ = write!(sql, "DROP TRIGGER full_disk ON {table}; ");
        }
        sql.push_str("DROP FUNCTION full_disk();");
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::PgDiskFull;

    #[test]
    fn a_trigger_a_table_and_their_removal() {
        let full = PgDiskFull::new("INSERT OR UPDATE", &["customers", "conversations"]);
        let fill = full.fill();
        assert!(fill.starts_with("CREATE FUNCTION full_disk()"), "{fill}");
        assert!(fill.contains("ERRCODE = 'disk_full'"), "{fill}");
        for table in ["customers", "conversations"] {
            assert!(
                fill.contains(&format!(
                    "CREATE TRIGGER full_disk BEFORE INSERT OR UPDATE ON {table} \
                     FOR EACH ROW EXECUTE FUNCTION full_disk();"
                )),
                "{fill}"
            );
        }
        assert_eq!(
            full.free(),
            "DROP TRIGGER full_disk ON customers; DROP TRIGGER full_disk ON conversations; \
             DROP FUNCTION full_disk();"
        );
    }
}
