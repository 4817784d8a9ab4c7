//! Sign-in and sign-out.

use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;
use switchboard_storage::SignIn;

use crate::pages::{CsrfForm, html, see_other};
use crate::session::{self, SESSION_COOKIE, SIGN_IN_COOKIE};
use crate::state::ConsoleState;
use crate::{ConsoleError, render};

/// How long the sign-in form's CSRF cookie lives.
const FORM_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

fn form_page(token: &str, message: Option<&str>, email: &str, ask_tenant: bool) -> maud::Markup {
    render::page(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            @if let Some(m) = message {
                p class="error" role="alert" id="sign-in-error" { (m) }
            }
            form class="stack card" method="post" action="/console/sign-in" {
                input type="hidden" name="csrf" value=(token);
                label for="email" { "Email" }
                input id="email" type="email" name="email" autocomplete="username" required value=(email);
                label for="password" { "Password" }
                input id="password" type="password" name="password" autocomplete="current-password" required;
                @if ask_tenant {
                    label for="tenant" { "Workspace (tenant)" }
                    input id="tenant" type="text" name="tenant" required;
                }
                button type="submit" id="sign-in" { "Sign in" }
            }
        },
    )
}

/// `GET /console/sign-in`.
pub(crate) async fn form(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
) -> Result<HttpResponse, ConsoleError> {
    if session::current(&req, &state).await?.is_some() {
        return Ok(see_other("/console/inbox"));
    }
    fresh_form(&req, &state, None, "", false)
}

fn fresh_form(
    req: &HttpRequest,
    state: &ConsoleState,
    message: Option<&str>,
    email: &str,
    ask_tenant: bool,
) -> Result<HttpResponse, ConsoleError> {
    let token = session::random_token()?;
    let secure = session::is_secure(req, state);
    let mut res = html(form_page(&token, message, email, ask_tenant));
    res.add_cookie(&session::cookie(
        SIGN_IN_COOKIE,
        token,
        secure,
        Some(FORM_LIFETIME),
    ))
    .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(res)
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    tenant: Option<String>,
}

/// `POST /console/sign-in`.
pub(crate) async fn submit(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, ConsoleError> {
    session::same_origin(&req)?;
    let expected = req
        .cookie(SIGN_IN_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if !session::tokens_match(&form.csrf, &expected) {
        return Err(ConsoleError::Forbidden(
            "the sign-in form is stale or forged; reload the page",
        ));
    }
    let client = switchboard_api::ratelimit::client_key(&req, &state.app.config().trusted_proxies);
    let decision = state.sign_in.check(client);
    if !decision.allowed {
        return Err(ConsoleError::TooMany(decision.retry_after_secs));
    }
    let store = state.store();
    let tenant = match form
        .tenant
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(name) => match store.admin().tenant_by_name(name).await? {
            Some(t) => Some(t.id),
            None => {
                return refused(&req, &state, &form.email, true);
            }
        },
        None => None,
    };
    match store
        .console()
        .sign_in(&form.email, &form.password, tenant)
        .await?
    {
        SignIn::Agent(agent) => {
            let new = store
                .console()
                .create_session(&agent, state.config.session)
                .await?;
            tracing::info!(
                agent = agent.id.get(),
                tenant = agent.tenant_id.get(),
                "console sign-in"
            );
            let secure = session::is_secure(&req, &state);
            let mut res = see_other("/console/inbox");
            res.add_cookie(&session::cookie(SESSION_COOKIE, new.token, secure, None))
                .map_err(|e| ConsoleError::Internal(e.to_string()))?;
            res.add_removal_cookie(&session::removal(SIGN_IN_COOKIE, secure))
                .map_err(|e| ConsoleError::Internal(e.to_string()))?;
            Ok(res)
        }
        SignIn::Ambiguous => fresh_form(
            &req,
            &state,
            Some("This email belongs to several workspaces: name the workspace too."),
            &form.email,
            true,
        ),
        SignIn::Refused => refused(&req, &state, &form.email, tenant.is_some()),
    }
}

fn refused(
    req: &HttpRequest,
    state: &ConsoleState,
    email: &str,
    ask_tenant: bool,
) -> Result<HttpResponse, ConsoleError> {
    let mut res = fresh_form(
        req,
        state,
        Some("Wrong email or password."),
        email,
        ask_tenant,
    )?;
    *res.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
    Ok(res)
}

/// `POST /console/sign-out`.
pub(crate) async fn sign_out(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    let secure = session::is_secure(&req, &state);
    if let Some(s) = session::current(&req, &state).await? {
        session::check_post(&req, &s, &form.csrf)?;
        state.store().console().end_session(s.id).await?;
    }
    let mut res = see_other("/console/sign-in");
    res.add_removal_cookie(&session::removal(SESSION_COOKIE, secure))
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    Ok(res)
}
