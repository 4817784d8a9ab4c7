//! API-key authentication, scopes and per-key rate limiting.

use actix_web::{HttpMessage, HttpRequest};
use base64::Engine;
use switchboard_domain::{Actor, ApiKey, Scope, Tenant};
use switchboard_storage::WriteContext;

use crate::{ApiError, AppState, Dialect, DialectError, ratelimit};

/// How a dialect's clients send their key in `Authorization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `Authorization: Basic base64(<tenant>:<key>)`.
    Basic,
    /// `Authorization: SOTicket <key>` (SuperOffice).
    SoTicket,
    /// `Authorization: Zoho-oauthtoken <key>` (Zoho SalesIQ).
    ZohoOauthToken,
}

impl Scheme {
    const fn word(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Basic => "basic",
            Self::SoTicket => "soticket",
            Self::ZohoOauthToken => "zoho-oauthtoken",
        }
    }
}

/// The tenant a request authenticated as, kept in the request's extensions
/// so that the request middleware can forget the tenant's cached keys when
/// a handler finds the tenant gone (a 401 after authentication).
#[derive(Debug, Clone, Copy)]
pub struct Authenticated(pub switchboard_domain::TenantId);

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key used.
    pub key: ApiKey,
    /// Its tenant; every query is scoped to it.
    pub tenant: Tenant,
}

impl Principal {
    /// Who acts: the key.
    #[must_use]
    pub const fn actor(&self) -> Actor {
        Actor::ApiKey(self.key.id)
    }

    /// The context of a write by this caller through API `api` (recorded
    /// in the change history).
    #[must_use]
    pub fn context(&self, api: impl Into<String>) -> WriteContext {
        WriteContext::new(self.tenant.clone(), self.actor(), api)
    }

    /// Fails with 403 unless the key carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.key.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(scope))
        }
    }
}

/// Extracts the presented key using one of `schemes`.
fn presented_key(
    req: &HttpRequest,
    schemes: &[Scheme],
) -> Result<(String, Option<String>), ApiError> {
    let Some(header) = req.headers().get(actix_web::http::header::AUTHORIZATION) else {
        return Err(ApiError::Unauthorized(
            "missing Authorization header; send the API key as described in the docs".into(),
        ));
    };
    let header = header
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not valid text".into()))?
        .trim();
    let (word, value) = header.split_once(' ').unwrap_or((header, ""));
    let value = value.trim();
    let Some(scheme) = schemes.iter().find(|s| s.word().eq_ignore_ascii_case(word)) else {
        let accepted: Vec<&str> = schemes.iter().map(|s| s.word()).collect();
        return Err(ApiError::Unauthorized(format!(
            "unsupported Authorization scheme; use one of: {}",
            accepted.join(", ")
        )));
    };
    if value.is_empty() {
        return Err(ApiError::Unauthorized("empty credentials".into()));
    }
    match scheme {
        Scheme::Basic => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ApiError::Unauthorized("malformed Basic credentials".into()))?;
            let (user, key) = decoded
                .split_once(':')
                .ok_or_else(|| ApiError::Unauthorized("malformed Basic credentials".into()))?;
            if user.is_empty() {
                return Err(ApiError::Unauthorized(
                    "Basic credentials need the tenant name as the user name".into(),
                ));
            }
            Ok((key.to_string(), Some(user.to_string())))
        }
        _ => Ok((value.to_string(), None)),
    }
}

/// Authenticates the request's key, then applies the per-key rate limit.
/// The rate-limit decision is stored in the request so that the response
/// carries `X-RateLimit-*` headers.
///
/// Failed authentications are limited per client address
/// ([`ratelimit::client_key`]): each failure takes a token from the
/// address's bucket, and while it is empty every attempt from there that
/// would need the database is answered 429 with `Retry-After`, before any
/// lookup. A key verified recently (a key-cache hit) passes regardless,
/// so a busy client is not locked out by a neighbour behind the same NAT.
pub async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    schemes: &[Scheme],
) -> Result<Principal, ApiError> {
    let presented = presented_key(req, schemes);
    let cached = presented
        .as_ref()
        .ok()
        .and_then(|(secret, _)| state.keys().get(secret));
    let client = ratelimit::client_key(req, &state.config().trusted_proxies);
    if cached.is_none()
        && let Some(refused) = state.auth_failures().exhausted(client)
    {
        state
            .metrics()
            .inc("switchboard_auth_failures_throttled_total", "", 1);
        return Err(ApiError::AuthThrottled(refused.retry_after_secs));
    }
    let failed = |e: ApiError| {
        state.auth_failures().check(client);
        state
            .metrics()
            .inc("switchboard_auth_failures_total", "", 1);
        e
    };
    let (presented, basic_user) = presented.map_err(failed)?;
    let found = match cached {
        Some(hit) => Some(hit),
        None => {
            let found = state
                .store()
                .admin()
                .authenticate(&presented)
                .await
                .map_err(|e| ApiError::from_storage(e, &|p| p.to_string()))?;
            if let Some((key, tenant)) = &found {
                state.keys().put(&presented, key, tenant);
            }
            found
        }
    };
    let Some((key, tenant)) = found else {
        return Err(failed(ApiError::Unauthorized("invalid API key".into())));
    };
    if let Some(user) = basic_user
        && user != tenant.name
    {
        return Err(failed(ApiError::Unauthorized("invalid API key".into())));
    }
    req.extensions_mut().insert(Authenticated(tenant.id));
    let decision = state.limiter().check(key.id.get());
    req.extensions_mut().insert(decision);
    if !decision.allowed {
        return Err(ApiError::RateLimited(decision));
    }
    Ok(Principal { key, tenant })
}

/// The authenticated caller of a dialect-`D` request: authenticates with
/// `D`'s schemes (the rate limit included) and, with `scope`, requires it.
/// Every dialect's handlers start here; failures render in `D`'s format.
pub async fn principal<D: Dialect>(
    state: &AppState,
    req: &HttpRequest,
    scope: Option<Scope>,
) -> Result<Principal, DialectError<D>> {
    let p = authenticate(state, req, D::SCHEMES)
        .await
        .map_err(|e| match e {
            ApiError::Unauthorized(m) => ApiError::Unauthorized(D::unauthorized(m)),
            other => other,
        })?;
    if let Some(scope) = scope {
        p.require(scope)?;
    }
    Ok(p)
}
