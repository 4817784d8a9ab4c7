//! The contract: `/openapi.json` and the Swagger UI at `/docs/`.

use switchboard_e2e::TestApp;

/// The Swagger UI makes no request off the machine: its page and scripts
/// name no other host, and the online validator badge is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_stays_on_the_machine() {
    let app = TestApp::sqlite().await;
    let page = app.get("/docs/").send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let init = app
        .get("/docs/swagger-initializer.js")
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    let init = init.text().await.unwrap();
    let compact: String = init.split_whitespace().collect();
    assert!(compact.contains("\"validatorUrl\":\"none\""), "{init}");
    assert!(compact.contains("\"tryItOutEnabled\":true"), "{init}");
    for text in [&page, &init] {
        for host in [
            "validator.swagger.io",
            "https://",
            "http://",
            "//cdn",
            "unpkg",
        ] {
            assert!(!text.contains(host), "{host} in:\n{text}");
        }
    }
}
