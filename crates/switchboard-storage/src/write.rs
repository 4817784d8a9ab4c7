//! What every write takes (who writes, under which precondition) and how a
//! change can fail.

use std::convert::Infallible;
use std::fmt;

use switchboard_domain::{Actor, DomainError, Tenant, Timestamp};

use crate::StorageError;
use crate::connection::Failure;

/// How many times a modify reloads and retries after a concurrent writer won.
pub const MAX_MODIFY_ATTEMPTS: usize = 16;

/// Conditions the current row must meet for a write to happen. They are
/// judged against the row that is actually written (after any reload).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Precondition {
    /// The row's `version` must equal this (an `If-Match` ETag).
    pub version: Option<i64>,
    /// The row must not have changed after this instant. HTTP-dates carry
    /// whole seconds, so both sides are truncated to seconds: a row updated
    /// at 12:00:00.900 counts as unmodified since 12:00:00.
    pub unmodified_since: Option<Timestamp>,
}

impl Precondition {
    /// No condition.
    pub const NONE: Self = Self {
        version: None,
        unmodified_since: None,
    };

    /// The row must be at `version`.
    #[must_use]
    pub const fn version(version: i64) -> Self {
        Self {
            version: Some(version),
            unmodified_since: None,
        }
    }

    /// Whether a row at `version`, last updated at `updated_at`, passes.
    #[must_use]
    pub fn holds(&self, version: i64, updated_at: Timestamp) -> bool {
        self.version.is_none_or(|v| v == version)
            && self.unmodified_since.is_none_or(|since| {
                updated_at.truncated_to_seconds() <= since.truncated_to_seconds()
            })
    }
}

/// Who is writing, for the change history and events.
#[derive(Debug, Clone)]
pub struct WriteContext {
    /// The caller's tenant; every row read or written belongs to it.
    pub tenant: Tenant,
    /// Who made the change.
    pub actor: Actor,
    /// Through which API family (`helpcrunch`, `superoffice`, `zoho`, `chatbot`, `cli`…).
    pub api: String,
}

impl WriteContext {
    /// A context for `tenant`.
    #[must_use]
    pub fn new(tenant: Tenant, actor: Actor, api: impl Into<String>) -> Self {
        Self {
            tenant,
            actor,
            api: api.into(),
        }
    }
}

/// Why a modify failed: the caller's change refused itself, or the store
/// (including the domain's rules on the result) refused the write. Nothing
/// was written either way.
pub enum ModifyError<X> {
    /// The change closure returned this error.
    Rejected(X),
    /// Not found, a precondition, the domain's rules, contention, or the
    /// database.
    Storage(StorageError),
}

impl<X> ModifyError<X> {
    /// The storage error, with a rejection turned into one by `f`.
    pub fn into_storage(self, f: impl FnOnce(X) -> StorageError) -> StorageError {
        match self {
            Self::Rejected(x) => f(x),
            Self::Storage(e) => e,
        }
    }
}

impl<X> From<StorageError> for ModifyError<X> {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

impl<X> From<diesel::result::Error> for ModifyError<X> {
    fn from(e: diesel::result::Error) -> Self {
        Self::Storage(e.into())
    }
}

impl From<ModifyError<DomainError>> for StorageError {
    /// A rejection by the domain is a [`StorageError::Domain`].
    fn from(e: ModifyError<DomainError>) -> Self {
        e.into_storage(Self::Domain)
    }
}

impl From<ModifyError<Infallible>> for StorageError {
    fn from(e: ModifyError<Infallible>) -> Self {
        e.into_storage(|never| match never {})
    }
}

impl<X: fmt::Debug> fmt::Debug for ModifyError<X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(x) => f.debug_tuple("Rejected").field(x).finish(),
            Self::Storage(e) => f.debug_tuple("Storage").field(e).finish(),
        }
    }
}

impl<X: fmt::Display> fmt::Display for ModifyError<X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(x) => write!(f, "the change was rejected: {x}"),
            Self::Storage(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<X: fmt::Debug + fmt::Display> std::error::Error for ModifyError<X> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Rejected(_) => None,
            Self::Storage(e) => Some(e),
        }
    }
}

impl<X> Failure for ModifyError<X> {
    fn may_be_lost_connection(&self) -> bool {
        matches!(self, Self::Storage(e) if e.may_be_lost_connection())
    }

    fn storage_error(&self) -> Option<&StorageError> {
        match self {
            Self::Storage(e) => Some(e),
            Self::Rejected(_) => None,
        }
    }

    fn storage_error_mut(&mut self) -> Option<&mut StorageError> {
        match self {
            Self::Storage(e) => Some(e),
            Self::Rejected(_) => None,
        }
    }
}

/// Why a batch of changes failed, and at which items (their indexes in the
/// batch as given). Nothing of the batch was written.
#[derive(Debug)]
pub struct BatchError<X> {
    /// The index of the first failing item.
    pub index: usize,
    /// Why it failed.
    pub error: ModifyError<X>,
    /// Every other failing item, in index order: each item whose change
    /// was refused (not found, rejected, a rule broken) is reported, not
    /// only the first. Empty when the database failed.
    pub more: Vec<(usize, ModifyError<X>)>,
}

impl<X> BatchError<X> {
    /// A batch error of these failures (`(index, error)`, at least one).
    pub(crate) fn of(mut failures: Vec<(usize, ModifyError<X>)>) -> Option<Self> {
        failures.sort_by_key(|(i, _)| *i);
        let mut it = failures.into_iter();
        let (index, error) = it.next()?;
        Some(Self {
            index,
            error,
            more: it.collect(),
        })
    }
}

/// Why an import failed, and at which draft (its index as given). Nothing
/// of the import was written. A draft cannot be rejected by a caller's
/// closure, so the error is always [`ModifyError::Storage`].
pub type ImportError = BatchError<std::convert::Infallible>;

impl<X> From<StorageError> for BatchError<X> {
    /// A failure of the batch as a whole (the database), reported at item 0.
    fn from(e: StorageError) -> Self {
        Self {
            index: 0,
            error: ModifyError::Storage(e),
            more: Vec::new(),
        }
    }
}

impl<X> From<diesel::result::Error> for BatchError<X> {
    fn from(e: diesel::result::Error) -> Self {
        StorageError::from(e).into()
    }
}

impl<X> Failure for BatchError<X> {
    fn may_be_lost_connection(&self) -> bool {
        self.error.may_be_lost_connection()
    }

    fn storage_error(&self) -> Option<&StorageError> {
        self.error.storage_error()
    }

    fn storage_error_mut(&mut self) -> Option<&mut StorageError> {
        self.error.storage_error_mut()
    }
}
