//! Per-test databases and the `psql` plumbing behind them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;
use crate::cluster::run;

/// A freshly created, uniquely named database. Dropping it drops the database
/// (`WITH (FORCE)`, best-effort).
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
    psql: PathBuf,
}

impl TestDatabase {
    pub(crate) fn create(admin_url: &str, psql: &Path) -> Result<Self, Error> {
        let name = unique_name();
        run_sql(psql, admin_url, &format!("CREATE DATABASE \"{name}\""))?;
        Ok(Self {
            url: with_database(admin_url, &name),
            name,
            admin_url: admin_url.to_owned(),
            psql: psql.to_owned(),
        })
    }

    /// Connection URL of this database, e.g. `postgres://postgres@127.0.0.1:5432/sbtest_1_0_…`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name (`sbtest_<pid>_<counter>_<nanos>`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = &self.name;
        // FORCE needs PostgreSQL 13+; fall back to a plain drop on older servers.
        let dropped = run_sql(
            &self.psql,
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        );
        if dropped.is_err() {
            let _ = run_sql(
                &self.psql,
                &self.admin_url,
                &format!("DROP DATABASE IF EXISTS \"{name}\""),
            );
        }
    }
}

/// Runs `sql` through `psql` against `url`; returns the unaligned, tuples-only output.
pub(crate) fn run_sql(psql: &Path, url: &str, sql: &str) -> Result<String, Error> {
    let mut command = Command::new(psql);
    command
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "10");
    let output = run(&mut command)?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!("sbtest_{}_{counter}_{nanos}", std::process::id())
}

/// `url` with its database (path) replaced by `name`, keeping any query string.
pub(crate) fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let suffix = tail.find(['?', '#']).map_or("", |at| &tail[at..]);
    format!("{scheme}://{authority}/{name}{suffix}")
}

/// Whether `url` names a PostgreSQL server.
pub(crate) fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_in_urls() {
        let cases = [
            ("postgres://u:p@h:5/admin", "postgres://u:p@h:5/db"),
            ("postgresql://h", "postgresql://h/db"),
            ("postgres://h/", "postgres://h/db"),
            (
                "postgres://h:1/x?sslmode=disable",
                "postgres://h:1/db?sslmode=disable",
            ),
            (
                "postgres://h?sslmode=disable",
                "postgres://h/db?sslmode=disable",
            ),
        ];
        for (admin, expected) in cases {
            assert_eq!(with_database(admin, "db"), expected, "{admin}");
        }
    }

    #[test]
    fn names_are_unique_and_valid_identifiers() {
        let (a, b) = (unique_name(), unique_name());
        assert_ne!(a, b);
        assert!(a.len() < 64, "{a}");
        assert!(
            a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{a}"
        );
    }

    #[test]
    fn only_postgres_schemes_count() {
        assert!(is_postgres_url("postgres://h/d"));
        assert!(is_postgres_url("postgresql://h/d"));
        assert!(!is_postgres_url("sqlite://x.db"));
        assert!(!is_postgres_url(""));
    }
}
