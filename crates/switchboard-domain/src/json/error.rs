//! The error type shared by every JSON document operation.

use std::fmt;

use super::limits::LimitKind;

/// Why a JSON Patch (or a pointer look-up, or a limit check) failed.
///
/// `index` is the position of the failing operation in the patch when the
/// failure belongs to one operation, and `None` when it belongs to the patch
/// or document as a whole (for example "too many operations", or a pointer
/// resolved outside of any patch).
///
/// The `Display` form names the operation index, the path and the reason,
/// e.g. `operation 2 (/a/b): path not found`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PatchError {
    /// Zero-based index of the failing operation, if the failure belongs to one.
    pub index: Option<usize>,
    /// What went wrong.
    pub kind: PatchErrorKind,
}

impl PatchError {
    /// An error that belongs to no particular operation.
    #[must_use]
    pub fn new(kind: PatchErrorKind) -> Self {
        Self { index: None, kind }
    }

    /// An error raised by the operation at `index`.
    #[must_use]
    pub fn at(index: usize, kind: PatchErrorKind) -> Self {
        Self {
            index: Some(index),
            kind,
        }
    }

    /// The JSON Pointer the error is about, when the error kind carries one.
    ///
    /// For [`PatchErrorKind::MoveIntoOwnChild`] this is the destination path.
    #[must_use]
    pub fn path(&self) -> Option<&str> {
        self.kind.path()
    }

    /// Whether this is a failed `test` operation (the patch was well formed,
    /// but the document did not hold the expected value).
    #[must_use]
    pub fn is_test_failure(&self) -> bool {
        matches!(self.kind, PatchErrorKind::TestFailed { .. })
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path().map(|p| if p.is_empty() { "\"\"" } else { p });
        match (self.index, path) {
            (Some(i), Some(p)) => write!(f, "operation {i} ({p}): {}", self.kind),
            (Some(i), None) => write!(f, "operation {i}: {}", self.kind),
            (None, Some(p)) => write!(f, "{p}: {}", self.kind),
            (None, None) => write!(f, "{}", self.kind),
        }
    }
}

impl From<PatchErrorKind> for PatchError {
    fn from(kind: PatchErrorKind) -> Self {
        Self::new(kind)
    }
}

/// The reason a JSON document operation failed.
///
/// The `Display` form is the bare reason; the path is rendered by
/// [`PatchError`]'s `Display`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchErrorKind {
    /// A `test` operation found a value different from the expected one
    /// (RFC 6902 §4.6). Callers map this to a conflict (HTTP 409).
    #[error("test failed")]
    TestFailed {
        /// The tested path, as written in the operation.
        path: String,
    },
    /// The target (or, for `add`, the parent of the target) does not exist,
    /// or a path goes through a scalar value.
    #[error("path not found")]
    PathNotFound {
        /// The path, as written in the operation.
        path: String,
    },
    /// The path is not a valid JSON Pointer (RFC 6901), e.g. it lacks the
    /// leading `/` in strict mode, contains a `~` not followed by `0` or `1`,
    /// or tries to remove the whole document.
    #[error("invalid JSON pointer: {reason}")]
    InvalidPointer {
        /// The path, as written in the operation.
        path: String,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A path token used on an array is not a valid index for the
    /// operation: not a decimal number, a number with leading zeros, `-`
    /// outside of `add`, or an `add` index past the end of the array.
    #[error("invalid array index")]
    InvalidArrayIndex {
        /// The path, as written in the operation.
        path: String,
    },
    /// Lenient mode only: a path token matches several members
    /// case-insensitively and none exactly.
    #[error("ambiguous path: several members match case-insensitively")]
    AmbiguousPath {
        /// The path, as written in the operation.
        path: String,
    },
    /// The operation is not allowed by the [`ApplyOptions`](super::ApplyOptions)
    /// (`move` and `copy` when `allow_move_copy` is false).
    #[error("operation `{op}` is not supported here")]
    Unsupported {
        /// The operation name (`"move"` or `"copy"`).
        op: &'static str,
    },
    /// A `move` whose destination lies inside the value being moved.
    #[error("cannot move a value into one of its own children (from {from})")]
    MoveIntoOwnChild {
        /// The `from` path of the operation.
        from: String,
        /// The destination path of the operation.
        path: String,
    },
    /// The patch document or one of its operation objects is malformed
    /// (not an array, unknown `op`, missing `path`/`from`/`value`, ...).
    #[error("malformed operation: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: String,
    },
    /// A configured [`Limits`](super::Limits) bound was exceeded.
    #[error("{limit} limit exceeded (max {max})")]
    LimitExceeded {
        /// Which limit.
        limit: LimitKind,
        /// The configured maximum.
        max: usize,
    },
}

impl PatchErrorKind {
    /// The JSON Pointer this error is about, if any.
    #[must_use]
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::TestFailed { path }
            | Self::PathNotFound { path }
            | Self::InvalidPointer { path, .. }
            | Self::InvalidArrayIndex { path }
            | Self::AmbiguousPath { path }
            | Self::MoveIntoOwnChild { path, .. } => Some(path),
            Self::Unsupported { .. } | Self::Malformed { .. } | Self::LimitExceeded { .. } => None,
        }
    }
}
