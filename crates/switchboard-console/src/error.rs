//! How the console refuses: an HTML page with the right status (or a
//! redirect to the sign-in form), never a 5xx for bad input.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use switchboard_storage::StorageError;

use crate::render;

/// A console request refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// No live session: the browser is sent to the sign-in form.
    #[error("sign in first")]
    SignedOut,
    /// Not there, or another tenant's.
    #[error("not found")]
    NotFound,
    /// A cross-site request or a missing/wrong CSRF token.
    #[error("refused: {0}")]
    Forbidden(&'static str),
    /// The agent's role does not allow it.
    #[error("your role does not allow this")]
    Role,
    /// Input the domain or the form refuses.
    #[error("{0}")]
    BadRequest(String),
    /// Too many sign-in attempts from this address.
    #[error("too many sign-in attempts; try again in {0} s")]
    TooMany(u64),
    /// The store is unavailable (503) or failed (500); logged, never shown.
    #[error("the console cannot reach its database")]
    Storage(#[source] StorageError),
    /// Something else failed; logged, never shown.
    #[error("internal error")]
    Internal(String),
}

impl From<StorageError> for ConsoleError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound | StorageError::TenantGone => Self::NotFound,
            StorageError::Domain(d) => Self::BadRequest(d.to_string()),
            StorageError::Conflict(m) => Self::BadRequest(m),
            StorageError::PreconditionFailed => {
                Self::BadRequest("the conversation changed meanwhile; reload and retry".into())
            }
            other => Self::Storage(other),
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignedOut => StatusCode::SEE_OTHER,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden(_) | Self::Role => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Storage(
                StorageError::Unavailable(_)
                | StorageError::Contention
                | StorageError::DiskFull { .. },
            ) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Storage(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            Self::SignedOut => {
                return res
                    .insert_header((header::LOCATION, "/console/sign-in"))
                    .insert_header(("HX-Redirect", "/console/sign-in"))
                    .finish();
            }
            Self::TooMany(secs) => {
                res.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            Self::Storage(e) => {
                tracing::error!(error = %e, cause = ?std::error::Error::source(e), "console request failed");
            }
            Self::Internal(e) => tracing::error!(error = %e, "console request failed"),
            _ => {}
        }
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Refused",
            StatusCode::BAD_REQUEST => "Not accepted",
            StatusCode::TOO_MANY_REQUESTS => "Slow down",
            _ => "Something went wrong",
        };
        res.content_type("text/html; charset=utf-8")
            .body(render::error_page(title, &self.to_string()).into_string())
    }
}
