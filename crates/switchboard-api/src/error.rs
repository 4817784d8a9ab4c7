//! Errors shared by every dialect, rendered in each dialect's own format.

use std::fmt;
use std::marker::PhantomData;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use switchboard_domain::{DomainError, Scope};
use switchboard_storage::StorageError;

use crate::auth::Scheme;
use crate::ratelimit::RateDecision;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as the dialect names it (`email`, `customData.plan`, `/CustomerEmail`).
    pub field: String,
    /// A stable machine code.
    pub code: String,
    /// Human explanation.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

/// What went wrong, independent of any dialect's wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// No credentials, or they are not valid.
    Unauthorized(String),
    /// Valid key without the needed scope.
    Forbidden(Scope),
    /// No such resource for this tenant.
    NotFound(String),
    /// The request is malformed or breaks a rule; nothing was written.
    BadRequest(Vec<FieldError>),
    /// The body is larger than the configured limit.
    PayloadTooLarge(usize),
    /// The path exists but not for this method; the methods it takes
    /// (sent in `Allow`).
    MethodNotAllowed(Vec<&'static str>),
    /// A unique value is already taken, or a JSON Patch `test` failed.
    Conflict(String),
    /// A precondition header does not hold; nothing was written.
    PreconditionFailed,
    /// Nothing acceptable can be produced for the `Accept` header.
    NotAcceptable(String),
    /// The body's media type is not supported.
    UnsupportedMediaType(String),
    /// Too many requests for this key.
    RateLimited(RateDecision),
    /// Too many failed authentications from this client address; retry
    /// after this many seconds.
    AuthThrottled(u64),
    /// The database is unreachable, or has no space left for the write.
    Unavailable,
    /// A bug. The body reveals nothing; the cause is logged.
    Internal,
}

impl ApiError {
    /// A 400 with one field error.
    pub fn bad_request(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::BadRequest(vec![FieldError::new(field, code, message)])
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited(_) | Self::AuthThrottled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable snake_case code for the kind of error (`not_found`,
    /// `invalid_request`, …), for dialects whose envelopes carry one.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::BadRequest(_) => "invalid_request",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Conflict(_) => "conflict",
            Self::PreconditionFailed => "precondition_failed",
            Self::NotAcceptable(_) => "not_acceptable",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited(_) | Self::AuthThrottled(_) => "too_many_requests",
            Self::Unavailable => "service_unavailable",
            Self::Internal => "internal_error",
        }
    }

    /// A human summary, safe to show (never internal details).
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::Unauthorized(m)
            | Self::NotFound(m)
            | Self::Conflict(m)
            | Self::NotAcceptable(m)
            | Self::UnsupportedMediaType(m) => m.clone(),
            Self::Forbidden(scope) => format!("the API key lacks the {scope} scope"),
            Self::BadRequest(errors) => errors.first().map_or_else(
                || "Invalid request".to_string(),
                |e| format!("{}: {}", e.field, e.message),
            ),
            Self::MethodNotAllowed(allowed) => format!(
                "this method is not allowed here; allowed: {}",
                allowed.join(", ")
            ),
            Self::PayloadTooLarge(limit) => format!("request body is larger than {limit} bytes"),
            Self::PreconditionFailed => {
                "the resource was modified; precondition failed".to_string()
            }
            Self::RateLimited(d) => {
                format!("rate limit of {} requests per minute exceeded", d.limit)
            }
            Self::AuthThrottled(secs) => {
                format!("too many failed authentications from this address; retry after {secs} s")
            }
            Self::Unavailable => "service temporarily unavailable".to_string(),
            Self::Internal => "internal server error".to_string(),
        }
    }

    /// Maps a storage error; `field_name` translates a domain JSON Pointer
    /// (`/visitor/email`) into the dialect's field name.
    pub fn from_storage(e: StorageError, field_name: &dyn Fn(&str) -> String) -> Self {
        match e {
            StorageError::NotFound => Self::NotFound("not found".into()),
            StorageError::Conflict(m) => Self::Conflict(m),
            StorageError::PreconditionFailed => Self::PreconditionFailed,
            StorageError::Domain(d) => Self::from_domain(d, field_name),
            // The key's tenant was deleted while a server still remembered
            // the key (see `keycache`): the credentials are no longer valid.
            StorageError::TenantGone => {
                Self::Unauthorized("the API key's tenant no longer exists".into())
            }
            StorageError::Contention => {
                Self::Conflict("the resource is being changed concurrently; try again".into())
            }
            StorageError::Unavailable(cause) => {
                tracing::error!(error = %cause, "storage unavailable");
                Self::Unavailable
            }
            // Not the client's fault, and over once space is freed: a 503.
            StorageError::DiskFull { code, cause } => {
                tracing::error!(code, error = %cause, "storage full ({code}): the write was refused");
                Self::Unavailable
            }
            other => {
                tracing::error!(error = ?other, "storage error");
                Self::Internal
            }
        }
    }

    /// [`ApiError::from_storage`], with `NotFound` answered as `not_found`
    /// (what was not found, in the dialect's words).
    pub fn from_storage_naming(
        e: StorageError,
        not_found: &str,
        field_name: &dyn Fn(&str) -> String,
    ) -> Self {
        match e {
            StorageError::NotFound => Self::NotFound(not_found.to_string()),
            other => Self::from_storage(other, field_name),
        }
    }

    /// Maps a domain error; see [`ApiError::from_storage`].
    pub fn from_domain(e: DomainError, field_name: &dyn Fn(&str) -> String) -> Self {
        match e {
            DomainError::Validation(v) => Self::BadRequest(
                v.violations()
                    .iter()
                    .map(|v| FieldError::new(field_name(&v.path), v.code, v.message.clone()))
                    .collect(),
            ),
            DomainError::ReadOnly { field } => {
                Self::bad_request(field_name(&field), "read_only", "is read-only")
            }
            DomainError::Patch(p) if p.is_test_failure() => {
                Self::Conflict(format!("test failed: {p}"))
            }
            DomainError::Patch(p) => {
                let path = p.path().map(field_name).unwrap_or_default();
                Self::bad_request(path, "patch", p.to_string())
            }
            DomainError::Shape { path, message } => {
                Self::bad_request(field_name(&path), "type", message)
            }
            other => {
                tracing::error!(error = ?other, "unexpected domain error");
                Self::Internal
            }
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Renders a domain JSON Pointer with dots, unescaping each token:
/// `/customData/a~1b` → `customData.a/b`. Dialects rename members on top.
#[must_use]
pub fn dotted_pointer(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// A vendor dialect: how its clients authenticate, and its error format.
pub trait Dialect: 'static {
    /// How the dialect's clients send their key, in order of preference.
    const SCHEMES: &'static [Scheme];

    /// Renders the error body (status and rate-limit headers are added by [`DialectError`]).
    fn render(error: &ApiError) -> HttpResponse;

    /// Explains a failed authentication the dialect's way (by default, as it is).
    #[must_use]
    fn unauthorized(message: String) -> String {
        message
    }
}

/// An [`ApiError`] that renders in dialect `D`'s format.
pub struct DialectError<D: Dialect> {
    /// The error.
    pub error: ApiError,
    dialect: PhantomData<D>,
}

impl<D: Dialect> DialectError<D> {
    /// Wraps an error.
    pub const fn new(error: ApiError) -> Self {
        Self {
            error,
            dialect: PhantomData,
        }
    }
}

impl<D: Dialect> From<ApiError> for DialectError<D> {
    fn from(error: ApiError) -> Self {
        Self::new(error)
    }
}

impl<D: Dialect> fmt::Debug for DialectError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.error, f)
    }
}

impl<D: Dialect> fmt::Display for DialectError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<D: Dialect> ResponseError for DialectError<D> {
    fn status_code(&self) -> StatusCode {
        self.error.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = D::render(&self.error);
        *resp.status_mut() = self.error.status();
        let retry_after = match &self.error {
            ApiError::RateLimited(d) => {
                crate::ratelimit_headers(resp.headers_mut(), d);
                Some(d.retry_after_secs)
            }
            ApiError::AuthThrottled(secs) => Some(*secs),
            _ => None,
        };
        if let ApiError::MethodNotAllowed(allowed) = &self.error
            && let Ok(v) = actix_web::http::header::HeaderValue::from_str(&allowed.join(", "))
        {
            resp.headers_mut().insert(actix_web::http::header::ALLOW, v);
        }
        if let Some(secs) = retry_after
            && let Ok(v) = actix_web::http::header::HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, v);
        }
        resp
    }
}
