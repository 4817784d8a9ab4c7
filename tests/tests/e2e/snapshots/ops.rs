//! The operations endpoints: health, readiness, the OpenAPI document, the
//! docs page, an unmatched route, and the metrics those requests leave.

use reqwest::Method;
use switchboard_e2e::{TestApp, for_each_backend};

use super::{snap_each, snap_headers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_endpoints() {
    for_each_backend(|app: TestApp| async move {
        snap_each(vec![
            ("ops_healthz", app.anonymous(Method::GET, "/healthz")),
            ("ops_readyz", app.anonymous(Method::GET, "/readyz")),
            (
                "ops_openapi_json",
                app.anonymous(Method::GET, "/openapi.json"),
            ),
        ])
        .await;
        // Not following the redirect, to see it.
        let no_redirects = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        snap_headers(
            "ops_docs_redirect",
            &["location"],
            no_redirects.get(app.url("/docs")),
        )
        .await;
        snap_each(vec![
            ("ops_docs_page", app.anonymous(Method::GET, "/docs/")),
            (
                "ops_unmatched_route",
                app.anonymous(Method::GET, "/v1/no-such-route"),
            ),
            // A route's path with another method.
            (
                "ops_unmatched_method",
                app.anonymous(Method::DELETE, "/healthz"),
            ),
            // Counts every request above (by route pattern and status).
            ("ops_metrics", app.anonymous(Method::GET, "/metrics")),
        ])
        .await;
    })
    .await;
}
