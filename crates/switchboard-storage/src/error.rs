//! The storage error type.

use switchboard_domain::DomainError;

/// Why a storage call failed. Never carries SQL text or driver messages
/// that could leak to an API client; [`StorageError::Unavailable`] and
/// [`StorageError::Internal`] keep their cause for logs only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// No such row for this tenant (a row of another tenant looks the same).
    #[error("not found")]
    NotFound,
    /// A unique value is taken (for example a session key or userId).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A precondition (expected version, unmodified-since) does not hold
    /// against the current row. Nothing was written.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The change was refused by the domain rules (validation, read-only
    /// field, JSON Patch failure including a failed `test`). Nothing was written.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The tenant the write was for no longer exists: it was deleted while
    /// the caller still held it (an API key remembered by a cache, say), so
    /// a row referring to it could not be written. Nothing was written.
    #[error("the tenant no longer exists")]
    TenantGone,
    /// Writers kept colliding on the same row beyond the retry bound.
    #[error("too much contention on one row; try again")]
    Contention,
    /// A pending migration needs every node of the deployment stopped
    /// (`docs/scaling.md`, "Migrations with several nodes up") and `live`
    /// nodes were seen alive within the last `within_secs` seconds:
    /// nothing was migrated.
    #[error(
        "migration {migration} needs every node stopped first: {live} node(s) of this database \
         were seen running within the last {within_secs} s; stop them, then migrate \
         (docs/scaling.md, \"Migrations with several nodes up\")"
    )]
    NodesRunning {
        /// The migration's version, as Diesel records it.
        migration: String,
        /// How many nodes were seen.
        live: i64,
        /// The window they were seen in.
        within_secs: u64,
    },
    /// The database cannot be reached or the pool timed out.
    #[error("storage unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database has no room for the write: the disk is full, or an
    /// SQLite size limit (`max_page_count`) was reached. Nothing of the
    /// call was written; reads still work, and writes work again once space
    /// is freed (no restart). The store reports itself not ready for a
    /// while after ([`Store::ready`](crate::Store::ready)).
    #[error("storage full ({code}): no space left for the write")]
    DiskFull {
        /// How the database said it: `SQLITE_FULL`, or `SQLSTATE 53100
        /// disk_full` (PostgreSQL).
        code: &'static str,
        /// The database's own message, for logs.
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The webhook secret keys are missing or wrong, or a stored secret
    /// cannot be opened with them (see [`SecretKeySource`](crate::SecretKeySource)).
    #[error(transparent)]
    SecretKeys(#[from] crate::secrets::SecretKeyError),
    /// Anything else: a bug or corrupt data. Logged, never shown.
    #[error("internal storage error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StorageError {
    pub(crate) fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(e.into())
    }

    /// Whether the database refused a row because a row it refers to is
    /// missing (a foreign key).
    pub(crate) fn is_foreign_key_violation(&self) -> bool {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        matches!(
            self,
            Self::Internal(source)
                if matches!(
                    source.downcast_ref::<E>(),
                    Some(E::DatabaseError(K::ForeignKeyViolation, _))
                )
        )
    }

    /// Whether the database had no room for the write ([`Self::DiskFull`]).
    #[must_use]
    pub const fn is_disk_full(&self) -> bool {
        matches!(self, Self::DiskFull { .. })
    }

    /// An error of the same kind for a write that failed because of this
    /// one (the others of an SQLite group commit): a full disk stays a full
    /// disk, anything else is internal. `what` says what happened to it.
    pub(crate) fn caused(&self, what: &str) -> Self {
        match self {
            Self::DiskFull { code, cause } => Self::DiskFull {
                code,
                cause: format!("{what}: {cause}").into(),
            },
            other => Self::internal(format!("{what}: {other}")),
        }
    }
}

/// SQLite's message for `SQLITE_FULL` (`sqlite3_errstr(SQLITE_FULL)`), the
/// only message it gives that code. Diesel reports the message, not the code.
const SQLITE_FULL_MESSAGE: &str = "database or disk is full";

/// How PostgreSQL words SQLSTATE 53100 (`disk_full`): `could not extend file
/// "…": No space left on device` (or `could not write …`), with the hint
/// `Check free disk space.` Diesel does not expose the SQLSTATE of an error
/// it does not classify itself, so the message and hint are matched; both
/// are in English unless the server's `lc_messages` says otherwise.
const PG_DISK_FULL_MARKERS: [&str; 2] = ["No space left on device", "Check free disk space"];

/// Which kind of disk-full error `info` is, if any: `SQLITE_FULL` or
/// PostgreSQL's SQLSTATE 53100.
fn disk_full(info: &dyn diesel::result::DatabaseErrorInformation) -> Option<&'static str> {
    if info.message() == SQLITE_FULL_MESSAGE {
        return Some("SQLITE_FULL");
    }
    let said = |m: &str| PG_DISK_FULL_MARKERS.iter().any(|marker| m.contains(marker));
    if said(info.message()) || info.hint().is_some_and(said) {
        return Some("SQLSTATE 53100 disk_full");
    }
    None
}

impl From<diesel::result::Error> for StorageError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match e {
            E::DatabaseError(_, info) if let Some(code) = disk_full(&*info) => Self::DiskFull {
                code,
                cause: info.message().to_string().into(),
            },
            // A COMMIT that failed and could not be rolled back either: the
            // commit's error says why.
            E::RollbackErrorOnCommit { commit_error, .. }
                if matches!(*commit_error, E::DatabaseError(..)) =>
            {
                Self::from(*commit_error)
            }
            E::NotFound => Self::NotFound,
            E::DatabaseError(K::UniqueViolation, info) => {
                tracing::debug!(constraint = ?info.constraint_name(), "unique violation");
                Self::Conflict("a unique value is already taken".into())
            }
            E::DatabaseError(K::ClosedConnection, info) => {
                Self::Unavailable(info.message().to_string().into())
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl From<diesel::r2d2::PoolError> for StorageError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

impl From<serde_json::Error> for StorageError {
    fn from(e: serde_json::Error) -> Self {
        Self::Internal(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error};

    use super::StorageError;

    /// A database error as PostgreSQL reports one (message and hint).
    struct Pg {
        message: &'static str,
        hint: Option<&'static str>,
    }

    impl DatabaseErrorInformation for Pg {
        fn message(&self) -> &str {
            self.message
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            self.hint
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn classify(info: impl DatabaseErrorInformation + Send + Sync + 'static) -> StorageError {
        StorageError::from(Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(info),
        ))
    }

    #[test]
    fn a_full_disk_is_classified_on_both_backends() {
        // (message, hint) -> the code, or None for "not a full disk"
        let cases: &[(&'static str, Option<&'static str>, Option<&str>)] = &[
            ("database or disk is full", None, Some("SQLITE_FULL")),
            // PostgreSQL, SQLSTATE 53100: a table or index cannot grow...
            (
                "could not extend file \"base/16384/16385\": No space left on device",
                Some("Check free disk space."),
                Some("SQLSTATE 53100 disk_full"),
            ),
            // ...a temporary file or the WAL cannot be written...
            (
                "could not write to file \"base/pgsql_tmp/pgsql_tmp123.0\": No space left on device",
                None,
                Some("SQLSTATE 53100 disk_full"),
            ),
            // ...and the hint alone, with a translated message.
            (
                "konnte Datei nicht erweitern",
                Some("Check free disk space."),
                Some("SQLSTATE 53100 disk_full"),
            ),
            ("database is locked", None, None),
            ("disk I/O error", None, None),
            ("relation \"nope\" does not exist", None, None),
        ];
        for (message, hint, want) in cases {
            let got = classify(Pg {
                message,
                hint: *hint,
            });
            match (want, &got) {
                (
                    Some(code),
                    StorageError::DiskFull {
                        code: got_code,
                        cause,
                    },
                ) => {
                    assert_eq!(got_code, code, "{message}");
                    assert_eq!(cause.to_string(), *message);
                    assert!(got.to_string().contains(code), "{got}");
                    assert!(got.is_disk_full());
                }
                (None, StorageError::Internal(_)) => assert!(!got.is_disk_full()),
                _ => panic!("{message}: {got:?}"),
            }
        }
    }

    #[test]
    fn a_failed_commit_keeps_its_kind() {
        let e = StorageError::from(Error::RollbackErrorOnCommit {
            rollback_error: Box::new(Error::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new("cannot rollback - no transaction is active".to_string()),
            )),
            commit_error: Box::new(Error::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new("database or disk is full".to_string()),
            )),
        });
        assert!(e.is_disk_full(), "{e:?}");
        let other = e.caused("rolled back with its group");
        assert!(other.is_disk_full(), "{other:?}");
        assert!(
            std::error::Error::source(&other)
                .is_some_and(|s| s.to_string().contains("rolled back with its group"))
        );
    }
}
