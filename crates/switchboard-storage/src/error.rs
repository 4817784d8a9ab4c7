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
    /// The database cannot be reached or the pool timed out.
    #[error("storage unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
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
}

impl From<diesel::result::Error> for StorageError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match e {
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
