//! Numbers come back exactly: random doubles and 64-bit integers sent as
//! JSON text through every dialect that stores free-form values, read back
//! through another dialect, on SQLite and PostgreSQL. Integers beyond 64
//! bits are refused with a 400 and change nothing; negative zero reads as
//! zero on both backends.
//!
//! The numbers are drawn from proptest strategies (a fresh random seed per
//! run); a failure names the number, which then belongs in `EDGES`.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use switchboard_domain::AttributeType;
use switchboard_e2e::{FetchJson, TestApp, for_each_backend};

use crate::e2e::common::zoho;

/// Numbers that once went wrong or sit on a boundary, as sent.
const EDGES: &[&str] = &[
    "960349.6949851641",
    "-0.0",
    "-0",
    "0.1",
    "9007199254740993",
    "-9007199254740993",
    "18446744073709551615",
    "-9223372036854775808",
    "5e-324",
    "1.7976931348623157e308",
    "2.2250738585072014e-308",
    "123456.78901234567",
    "2.901784285372009e17",
    "290178428537200900.0",
    "-1.5e18",
    "1e20",
];

/// A number's text as sent, and the text it must come back as: the exact
/// text for an integer, the shortest text of the same double otherwise.
fn expected(sent: &str) -> String {
    if let Ok(i) = sent.parse::<i64>() {
        return i.to_string();
    }
    if let Ok(u) = sent.parse::<u64>() {
        return u.to_string();
    }
    let double: f64 = sent.parse().expect("a decimal literal");
    // Negative zero is stored as zero (PostgreSQL's numeric has none).
    let double = if double == 0.0 { 0.0 } else { double };
    // From 1e16 on, a double within 64 bits comes back as the integer of
    // its shortest text (as PostgreSQL's jsonb writes it out).
    if (1e16..1e20).contains(&double.abs()) {
        let shortest = format!("{double:e}");
        let (mantissa, exponent) = shortest.split_once('e').unwrap();
        let fraction = mantissa.split_once('.').map_or(0, |(_, f)| f.len());
        let digits: i128 = mantissa.replace('.', "").parse().unwrap();
        let shift = exponent.parse::<u32>().unwrap() - u32::try_from(fraction).unwrap();
        let integer = digits * 10_i128.pow(shift);
        if i64::try_from(integer).is_ok() || u64::try_from(integer).is_ok() {
            return integer.to_string();
        }
    }
    serde_json::to_string(&double).expect("a finite double")
}

/// `count` random number texts: doubles (their shortest text, as clients
/// written in JavaScript or Python send them, and 17 significant digits,
/// as `%.17g` does), decimal literals with up to 17 digits, and integers
/// across the whole 64-bit range.
fn sample(count: usize) -> Vec<String> {
    let finite = any::<f64>().prop_filter("finite", |f| f.is_finite());
    let strategy = prop_oneof![
        finite
            .clone()
            .prop_map(|f| serde_json::to_string(&f).unwrap()),
        finite.prop_map(|f| format!("{f:.16e}")),
        "-?[1-9][0-9]{0,8}\\.[0-9]{1,8}",
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|u| u.to_string()),
        (-(1_i64 << 53)..(1_i64 << 53)).prop_map(|i| i.to_string()),
    ];
    let mut runner = TestRunner::default();
    let mut numbers: Vec<String> = EDGES.iter().map(|s| (*s).to_string()).collect();
    while numbers.len() < count {
        numbers.push(strategy.new_tree(&mut runner).unwrap().current());
    }
    numbers
}

/// `{"n0": <text>, "n1": <text>, …}` written from the texts themselves, so
/// the server sees exactly what a client sent.
fn object_of(numbers: &[String]) -> String {
    let members: Vec<String> = numbers
        .iter()
        .enumerate()
        .map(|(i, n)| format!("\"n{i}\": {n}"))
        .collect();
    format!("{{{}}}", members.join(", "))
}

/// Checks that `object` holds each number under `n<i>` as expected.
fn assert_exact(object: &Value, numbers: &[String], route: &str) {
    for (i, sent) in numbers.iter().enumerate() {
        let got = &object[format!("n{i}")];
        assert!(got.is_number(), "{route}: n{i} = {sent} came back as {got}");
        assert_eq!(got.to_string(), expected(sent), "{route}: {sent} changed");
    }
}

/// Free-form values: written through Zoho `customer_info` and read through
/// SuperOffice `CustomInfo` and HelpCrunch `customInfo`, then written
/// through SuperOffice and read through Zoho.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_numbers_round_trip_through_every_dialect() {
    for_each_backend(|app| async move {
        let created = zoho(&app, reqwest::Method::POST, "/conversations")
            .json(&json!({"visitor": {"name": "Num", "email": "num@example.com"}, "question": "?"}))
            .fetch_expecting(200)
            .await;
        let id = created["data"]["id"].as_str().unwrap().to_string();
        let numbers = sample(400);
        // customer_info holds at most 100 keys: send batches of 90.
        for batch in numbers.chunks(90) {
            let body = format!("{{\"customer_info\": {}}}", object_of(batch));
            let (status, echoed) =
                zoho(&app, reqwest::Method::PUT, &format!("/conversations/{id}"))
                    .header("Content-Type", "application/json")
                    .body(body)
                    .fetch()
                    .await;
            assert_eq!(status, 200, "{echoed}");
            assert_exact(&echoed["data"]["customer_info"], batch, "Zoho PUT");
            let (_, so) = app.get(&format!("/api/v1/ChatSession/{id}")).fetch().await;
            assert_exact(&so["CustomInfo"], batch, "Zoho → SuperOffice GET");
            let (_, hc) = app.get(&format!("/v1/chats/{id}")).fetch().await;
            assert_exact(&hc["customInfo"], batch, "Zoho → HelpCrunch GET");

            let merge = format!("{{\"CustomInfo\": {}}}", object_of(batch));
            app.patch(&format!("/api/v1/ChatSession/{id}"))
                .header("Content-Type", "application/merge-patch+json")
                .body(merge)
                .fetch_expecting(200)
                .await;
            let (_, z) = zoho(&app, reqwest::Method::GET, &format!("/conversations/{id}"))
                .fetch()
                .await;
            assert_exact(&z["data"]["customer_info"], batch, "SuperOffice → Zoho GET");
        }
    })
    .await;
}

/// HelpCrunch `customData` of a number attribute, one value per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_numbers_round_trip_through_helpcrunch_custom_data() {
    for_each_backend(|app| async move {
        app.define_attribute("amount", AttributeType::Number, "Amount")
            .await;
        let created = app
            .post("/v1/customers")
            .json(&json!({"name": "Num"}))
            .fetch_expecting(201)
            .await;
        let id = created["id"].as_i64().unwrap();
        for sent in sample(40) {
            let body = format!(r#"{{"customData": [{{"property": "amount", "value": {sent}}}]}}"#);
            app.patch(&format!("/v1/customers/{id}"))
                .header("Content-Type", "application/json")
                .body(body)
                .fetch_expecting(200)
                .await;
            let (_, read) = app.get(&format!("/v1/customers/{id}")).fetch().await;
            let got = &read["customData"]["amount"];
            assert_eq!(got.to_string(), expected(&sent), "{sent} changed");
        }
    })
    .await;
}

/// Integers beyond 64 bits cannot be stored exactly: 400 in each dialect's
/// format, and the stored value is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integers_beyond_64_bits_are_refused() {
    for_each_backend(|app| async move {
        let (_, created) = zoho(&app, reqwest::Method::POST, "/conversations")
            .json(&json!({"visitor": {"name": "Big"}, "question": "?", "customer_info": {"n": 1}}))
            .fetch()
            .await;
        let id = created["data"]["id"].as_str().unwrap().to_string();
        let mut runner = TestRunner::default();
        let beyond = (u128::from(u64::MAX) + 1..=u128::MAX)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        for big in [
            "18446744073709551616".to_string(),
            "-9223372036854775809".to_string(),
            beyond.to_string(),
        ] {
            let body = zoho(&app, reqwest::Method::PUT, &format!("/conversations/{id}"))
                .header("Content-Type", "application/json")
                .body(format!(r#"{{"customer_info": {{"n": {big}}}}}"#))
                .fetch_expecting(400)
                .await;
            assert!(body["error"].is_object(), "Zoho's error format: {body}");
            let body = app
                .patch(&format!("/api/v1/ChatSession/{id}"))
                .header("Content-Type", "application/merge-patch+json")
                .body(format!(r#"{{"CustomInfo": {{"n": {big}}}}}"#))
                .fetch_expecting(400)
                .await;
            assert!(
                body["Error"].is_string(),
                "SuperOffice's error format: {body}"
            );
            let body = app
                .post("/v1/customers")
                .header("Content-Type", "application/json")
                .body(format!(
                    r#"{{"name": "Big", "customData": {{"n": {big}}}}}"#
                ))
                .fetch_expecting(400)
                .await;
            assert!(
                body["errors"].is_array(),
                "HelpCrunch's error format: {body}"
            );
        }
        let (_, so) = app.get(&format!("/api/v1/ChatSession/{id}")).fetch().await;
        assert_eq!(so["CustomInfo"], json!({"n": 1}), "nothing was written");
        assert_no_customers(&app).await;
    })
    .await;
}

async fn assert_no_customers(app: &TestApp) {
    app.get("/v1/customers/1").fetch_expecting(404).await;
}
