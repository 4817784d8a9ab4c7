//! Who is signed in, and whether a form post may be believed.
//!
//! * The session cookie holds a random token; the store keeps only its
//!   hash ([`switchboard_storage::Console`]). `HttpOnly`, `SameSite=Strict`,
//!   `Path=/console`, and `Secure` when the request came over TLS, or
//!   through a trusted proxy (`api.trusted_proxies`) that says
//!   `X-Forwarded-Proto: https`; the header is ignored from anyone else.
//! * A state-changing request must come from the console's own pages:
//!   `Sec-Fetch-Site`, when the browser sends it, must be `same-origin`
//!   (or `none`, typed by the user); `Origin`, when sent, must name this
//!   host; and the form's `csrf` field must equal the session's token
//!   (compared in constant time). The sign-in form, which has no session
//!   yet, carries a token that must equal its own short-lived cookie.

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::http::header;
use switchboard_domain::AgentRole;
use switchboard_storage::ConsoleSession;

use crate::ConsoleError;
use crate::state::{ConsoleState, SecureCookies};

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "sb_console";
/// The sign-in form's CSRF cookie.
pub(crate) const SIGN_IN_COOKIE: &str = "sb_console_sign_in";
/// The browser's time zone (an IANA name), set by `console.js`.
pub(crate) const TZ_COOKIE: &str = "sb_tz";

/// Whether the request reached us over HTTPS: a TLS listener, or a trusted
/// proxy's `X-Forwarded-Proto: https` (or always, with
/// `console.secure_cookies = "always"`).
pub(crate) fn is_secure(req: &HttpRequest, state: &ConsoleState) -> bool {
    if req.app_config().secure() || state.config.secure_cookies == SecureCookies::Always {
        return true;
    }
    let peer = req.peer_addr().map(|a| a.ip());
    let trusted = peer.is_some_and(|ip| {
        state
            .app
            .config()
            .trusted_proxies
            .iter()
            .any(|net| net.contains(&ip))
    });
    trusted
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .next()
                    .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
            })
}

/// A console cookie: `HttpOnly`, `SameSite=Strict`, `Path=/console`,
/// `Secure` over HTTPS; `max_age` `None` is a browser-session cookie.
pub(crate) fn cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age: Option<Duration>,
) -> Cookie<'static> {
    let mut c = Cookie::build(name, value)
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    if let Some(age) = max_age {
        c.set_max_age(time::Duration::seconds(
            i64::try_from(age.as_secs()).unwrap_or(i64::MAX),
        ));
    }
    c
}

/// A cookie that deletes `name`.
pub(crate) fn removal(name: &'static str, secure: bool) -> Cookie<'static> {
    let mut c = cookie(name, String::new(), secure, None);
    c.make_removal();
    c
}

/// The signed-in agent's live session, if any.
pub(crate) async fn current(
    req: &HttpRequest,
    state: &ConsoleState,
) -> Result<Option<ConsoleSession>, ConsoleError> {
    let Some(token) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state
        .store()
        .console()
        .session(token.value(), state.config.session)
        .await?)
}

/// The signed-in agent's session, or [`ConsoleError::SignedOut`].
pub(crate) async fn require(
    req: &HttpRequest,
    state: &ConsoleState,
) -> Result<ConsoleSession, ConsoleError> {
    current(req, state).await?.ok_or(ConsoleError::SignedOut)
}

/// The signed-in agent's session if the agent is an admin:
/// [`ConsoleError::SignedOut`] without a session, [`ConsoleError::Role`]
/// (403) for an agent.
pub(crate) async fn require_admin(
    req: &HttpRequest,
    state: &ConsoleState,
) -> Result<ConsoleSession, ConsoleError> {
    let session = require(req, state).await?;
    if session.agent.console_role() == AgentRole::Admin {
        Ok(session)
    } else {
        Err(ConsoleError::Role)
    }
}

/// Refuses a request that a browser marks as coming from another site.
pub(crate) fn same_origin(req: &HttpRequest) -> Result<(), ConsoleError> {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if !matches!(site, "same-origin" | "none") {
            return Err(ConsoleError::Forbidden(
                "the request came from another site",
            ));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, rest)| rest.trim_end_matches('/'));
        if host.is_none() || origin_host != host {
            return Err(ConsoleError::Forbidden(
                "the request came from another origin",
            ));
        }
    }
    Ok(())
}

/// Constant-time equality of two tokens (lengths first).
pub(crate) fn tokens_match(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    !b.is_empty()
        && a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A state-changing request of a signed-in agent: same origin and the
/// session's CSRF token.
pub(crate) fn check_post(
    req: &HttpRequest,
    session: &ConsoleSession,
    csrf: &str,
) -> Result<(), ConsoleError> {
    same_origin(req)?;
    if !tokens_match(csrf, &session.csrf) {
        return Err(ConsoleError::Forbidden(
            "the form is stale or forged (CSRF token mismatch); reload the page",
        ));
    }
    Ok(())
}

/// The session of a form post: signed in, and the form's CSRF token matches.
pub(crate) async fn posted(
    req: &HttpRequest,
    state: &ConsoleState,
    csrf: &str,
) -> Result<ConsoleSession, ConsoleError> {
    let session = require(req, state).await?;
    check_post(req, &session, csrf)?;
    Ok(session)
}

/// Like [`posted`], for a form only an admin may post.
pub(crate) async fn admin_posted(
    req: &HttpRequest,
    state: &ConsoleState,
    csrf: &str,
) -> Result<ConsoleSession, ConsoleError> {
    let session = require_admin(req, state).await?;
    check_post(req, &session, csrf)?;
    Ok(session)
}

/// 32 random hex digits.
pub(crate) fn random_token() -> Result<String, ConsoleError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
