//! The domain's error type.

use crate::json::PatchError;
use crate::validate::ValidationErrors;

/// Why a change to an entity was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// The result broke one or more rules.
    #[error("validation failed: {0}")]
    Validation(ValidationErrors),
    /// The change touched a read-only field.
    #[error("{field} is read-only")]
    ReadOnly {
        /// JSON Pointer of the field (`/id`, `/createdAt`).
        field: String,
    },
    /// A JSON Patch could not be applied (including a failed `test`).
    #[error(transparent)]
    Patch(#[from] PatchError),
    /// The patched document no longer has the resource's shape
    /// (a wrong type, an unknown member).
    #[error("{path}: {message}")]
    Shape {
        /// JSON Pointer of the offending member.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl From<ValidationErrors> for DomainError {
    fn from(e: ValidationErrors) -> Self {
        Self::Validation(e)
    }
}
