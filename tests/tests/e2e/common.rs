//! Helpers shared by more than one module of the e2e binary.

use switchboard_e2e::TestApp;

/// The `Authorization` value of SalesIQ's OAuth scheme for `key`.
pub fn zoho_token(key: &str) -> String {
    format!("Zoho-oauthtoken {key}")
}

/// A request to `/api/v2/<the app's screen name><path>` with the app's key
/// sent as `Zoho-oauthtoken`.
pub fn zoho(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    app.anonymous(method, &format!("/api/v2/{}{path}", app.tenant.name))
        .header("Authorization", zoho_token(&app.key))
}

/// The response's `Content-Type` (panics when it has none or it is not text).
pub fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}
