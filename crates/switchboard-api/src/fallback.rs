//! What answers when no handler does: an unknown path, a known path with
//! the wrong method, and a path or query string that an actix extractor
//! cannot read. Each answer is in the format of the dialect whose prefix
//! the path is under, never an empty body.

use std::sync::LazyLock;

use actix_web::dev::ResourceDef;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;

use crate::admin::Admin;
use crate::chatbot::Chatbot;
use crate::helpcrunch::error::HelpCrunch;
use crate::superoffice::error::SuperOffice;
use crate::zapier::Zapier;
use crate::zoho::error::Zoho;
use crate::{ApiError, DialectError};

/// The API a path belongs to, by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `/v1/…`
    HelpCrunch,
    /// `/api/v2/…`
    Zoho,
    /// `/api/v1/…` (and any other `/api/…`)
    SuperOffice,
    /// `/chatbot/…`
    Chatbot,
    /// `/zapier/…`
    Zapier,
    /// `/admin/…`
    Admin,
    /// Everything else: the operations endpoints and the docs.
    Operations,
}

impl Family {
    /// The family of `path`.
    #[must_use]
    pub fn of(path: &str) -> Self {
        // `prefix` and then the end or a `/`, in `prefix`'s case or (for
        // SuperOffice, whose paths are case-insensitive in ASCII) any.
        let starts = |prefix: &str, any_case: bool| {
            let (Some(head), Some(rest)) = (path.get(..prefix.len()), path.get(prefix.len()..))
            else {
                return false;
            };
            (head == prefix || any_case && head.eq_ignore_ascii_case(prefix))
                && (rest.is_empty() || rest.starts_with('/'))
        };
        let under = |prefix: &str| starts(prefix, false);
        let under_any_case = |prefix: &str| starts(prefix, true);
        if under("/v1") {
            Self::HelpCrunch
        } else if under("/api/v2") {
            Self::Zoho
        } else if under_any_case("/api") {
            Self::SuperOffice
        } else if under("/chatbot") {
            Self::Chatbot
        } else if under("/zapier") {
            Self::Zapier
        } else if under("/admin") {
            Self::Admin
        } else {
            Self::Operations
        }
    }

    /// Renders `error` in this family's format (status and headers included).
    #[must_use]
    pub fn render(self, error: ApiError) -> HttpResponse {
        match self {
            Self::HelpCrunch => DialectError::<HelpCrunch>::new(error).error_response(),
            Self::Zoho => DialectError::<Zoho>::new(error).error_response(),
            Self::SuperOffice => DialectError::<SuperOffice>::new(error).error_response(),
            Self::Chatbot => DialectError::<Chatbot>::new(error).error_response(),
            Self::Zapier => DialectError::<Zapier>::new(error).error_response(),
            Self::Admin => DialectError::<Admin>::new(error).error_response(),
            Self::Operations => DialectError::<Operations>::new(error).error_response(),
        }
    }
}

/// The operations endpoints' error format: `{"error": "…", "code": "…"}`.
#[derive(Debug)]
pub struct Operations;

impl crate::Dialect for Operations {
    const SCHEMES: &'static [crate::auth::Scheme] = &[];

    fn render(error: &ApiError) -> HttpResponse {
        HttpResponse::build(error.status())
            .json(json!({"error": error.message(), "code": error.code()}))
    }
}

/// Every mounted route's method and path pattern, and whether it is
/// matched case-insensitively (SuperOffice's: its pattern is then of the
/// path in lowercase).
static ROUTES: LazyLock<Vec<(&'static str, ResourceDef, bool)>> = LazyLock::new(|| {
    crate::routes()
        .into_iter()
        .map(|(method, path, _)| {
            let insensitive = crate::superoffice::routes::mount_pattern(path).is_some();
            let pattern = if insensitive {
                path.to_ascii_lowercase()
            } else {
                path.to_string()
            };
            (method, ResourceDef::new(pattern), insensitive)
        })
        .collect()
});

/// How many dynamic segments a route pattern has (`/v1/chats/{id}`: 1).
pub(crate) fn dynamic_segments(pattern: &str) -> usize {
    pattern.matches('{').count()
}

/// The routes whose pattern matches `path`, each with its number of
/// dynamic segments.
fn matching(path: &str) -> impl Iterator<Item = (&'static str, usize)> + '_ {
    let lower = path.to_ascii_lowercase();
    ROUTES
        .iter()
        .filter(move |(_, def, insensitive)| def.is_match(if *insensitive { &lower } else { path }))
        .map(|(method, def, _)| (*method, dynamic_segments(def.pattern().unwrap_or_default())))
}

/// The fewest dynamic segments of the route patterns matching `path`
/// (`None`: no route has this path). A literal segment beats a parameter:
/// `/v1/chats/status` is `PUT /v1/chats/status`'s path, not a chat id for
/// `GET /v1/chats/{id}`.
fn most_specific(path: &str) -> Option<usize> {
    matching(path).map(|(_, segments)| segments).min()
}

/// The methods `path` takes, in a stable order (empty: no route has this
/// path): those of the most specific patterns matching it.
#[must_use]
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let Some(fewest) = most_specific(path) else {
        return Vec::new();
    };
    let mut methods: Vec<&'static str> = Vec::new();
    for (method, segments) in matching(path) {
        if segments == fewest && !methods.contains(&method) {
            methods.push(method);
        }
    }
    const ORDER: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    methods.sort_by_key(|m| ORDER.iter().position(|o| o == m));
    methods
}

/// The app's default service: 405 with `Allow` for a known path, else the
/// dialect's not-found answer.
pub async fn default_service(req: HttpRequest) -> HttpResponse {
    let path = req.path();
    let family = Family::of(path);
    let allowed = allowed_methods(path);
    if allowed.is_empty() {
        family.render(ApiError::NotFound(format!("no such URL: {path}")))
    } else {
        family.render(ApiError::MethodNotAllowed(allowed))
    }
}

/// Extractor configuration: a path or query string that cannot be read
/// is a 400 in the dialect's format, in plain words.
pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(|err, req| {
        let response = Family::of(req.path()).render(ApiError::bad_request(
            "path",
            "invalid_path",
            "a path segment could not be read; use percent-encoded UTF-8",
        ));
        actix_web::error::InternalError::from_response(err, response).into()
    }));
    cfg.app_data(web::QueryConfig::default().error_handler(|err, req| {
        let response = Family::of(req.path()).render(query_error());
        actix_web::error::InternalError::from_response(err, response).into()
    }));
}

/// The error for a query string that cannot be decoded.
#[must_use]
pub fn query_error() -> ApiError {
    ApiError::bad_request(
        "query",
        "invalid_query",
        "the query string could not be read; send name=value pairs, percent-encoded",
    )
}

/// The query string's name/value pairs, in order.
pub fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| query_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_allowed_methods() {
        for (path, family) in [
            ("/v1/customers", Family::HelpCrunch),
            ("/v1", Family::HelpCrunch),
            ("/v10/x", Family::Operations),
            ("/api/v2/acme/conversations", Family::Zoho),
            ("/api/v1/ChatSession", Family::SuperOffice),
            ("/API/V1/CHATSESSION/7", Family::SuperOffice),
            ("/Api", Family::SuperOffice),
            ("/apis", Family::Operations),
            ("/chatbot/v1/chatlog", Family::Chatbot),
            ("/zapier/v1/hooks", Family::Zapier),
            ("/admin/v1/agents", Family::Admin),
            ("/administrator", Family::Operations),
            ("/nothing", Family::Operations),
        ] {
            assert_eq!(Family::of(path), family, "{path}");
        }
        assert_eq!(
            allowed_methods("/v1/customers/7"),
            ["GET", "PUT", "PATCH", "DELETE"]
        );
        assert_eq!(allowed_methods("/v1/chats/status"), ["PUT"]);
        assert_eq!(allowed_methods("/v1/customers/batch"), ["PUT"]);
        assert_eq!(most_specific("/v1/chats/status"), Some(0));
        assert_eq!(most_specific("/v1/chats/12"), Some(1));
        assert_eq!(
            allowed_methods("/api/v2/acme/conversations/5/close"),
            ["PUT"]
        );
        assert!(allowed_methods("/v1/nothing").is_empty());
        assert_eq!(
            allowed_methods("/API/v1/chatSESSION/7"),
            ["GET", "PUT", "PATCH", "DELETE"]
        );
        assert!(allowed_methods("/API/v1/chatSESSIONs/7").is_empty());
        assert_eq!(allowed_methods("/API/V1/TimeZone"), ["GET"]);
        // Zoho's paths are not case-insensitive.
        assert!(allowed_methods("/API/V2/acme/conversations").is_empty());
    }

    /// Resources are mounted fewest parameters first and a request is
    /// served by the first whose pattern matches (`crate::mount_under`): two
    /// patterns of as many parameters matching one path would leave the
    /// second's methods unreachable there. Every route's path, with each
    /// parameter filled in two ways, has one most specific pattern.
    #[test]
    fn every_path_has_one_most_specific_pattern() {
        assert!(ROUTES.len() > 40, "{} routes", ROUTES.len());
        for (_, def, _) in ROUTES.iter() {
            let pattern = def.pattern().unwrap_or_default();
            for value in ["7", "status"] {
                let path = pattern
                    .split('/')
                    .map(|seg| if seg.starts_with('{') { value } else { seg })
                    .collect::<Vec<_>>()
                    .join("/");
                let fewest = most_specific(&path);
                let patterns: std::collections::BTreeSet<&str> = ROUTES
                    .iter()
                    .filter(|(_, d, _)| d.is_match(&path))
                    .map(|(_, d, _)| d.pattern().unwrap_or_default())
                    .filter(|p| Some(dynamic_segments(p)) == fewest)
                    .collect();
                assert_eq!(patterns.len(), 1, "{path}: {patterns:?}");
            }
        }
    }
}
