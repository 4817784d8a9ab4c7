//! The four workloads of issue #8, each on random rows of the dataset.

use std::sync::Arc;

use hyper::Method;
use serde_json::json;

use crate::dataset::Dataset;
use crate::load::{Call, Rng, Workload};
use crate::model::Scenario;

/// The workload of `scenario` over `data`; `run` (unique per run) keeps
/// scenario 3's emails unique across runs.
#[must_use]
pub fn workload(scenario: Scenario, data: &Dataset, run: &str) -> Arc<dyn Workload> {
    match scenario {
        Scenario::SoPatch => Arc::new(SoPatch::new(data.conversations.clone())),
        Scenario::HcPatch => Arc::new(HcPatch::new(data.customers.clone())),
        Scenario::ChatbotEmail => Arc::new(ChatbotEmail::new(
            data.conversations.iter().map(|c| c.1.clone()).collect(),
            run.to_string(),
        )),
        Scenario::SoGet => Arc::new(SoGet::new(data.conversations.iter().map(|c| c.0).collect())),
    }
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> Option<&'a T> {
    items.get(rng.below(items.len()))
}

/// Scenario 1: `PATCH /api/v1/ChatSession/{id}` with a JSON Patch of one
/// `test` (the session key, which never changes) and two `replace`s.
#[derive(Debug)]
pub struct SoPatch {
    sessions: Vec<(i64, String)>,
}

impl SoPatch {
    /// Over `(conversation id, session key)` pairs.
    #[must_use]
    pub fn new(sessions: Vec<(i64, String)>) -> Self {
        Self { sessions }
    }
}

impl Workload for SoPatch {
    fn next(&self, rng: &mut Rng, _conn: u32, _seq: u64) -> Call {
        let (id, key) = pick(rng, &self.sessions).cloned().unwrap_or_default();
        so_patch(id, &key, rng.below(1_000_000))
    }
}

/// Scenario 1's request for session `id` (key `key`), with rank `n`.
fn so_patch(id: i64, key: &str, n: usize) -> Call {
    let body = json!([
        {"op": "test", "path": "/SessionKey", "value": key},
        {"op": "replace", "path": "/Rank", "value": n},
        {"op": "replace", "path": "/CustomerName", "value": format!("Visitor {n}")},
    ]);
    Call::json(
        Method::PATCH,
        format!("/api/v1/ChatSession/{id}"),
        &body,
        "application/json-patch+json",
    )
}

/// Scenario 2: `PATCH /v1/customers/{id}` (HelpCrunch merge) of two fields.
#[derive(Debug)]
pub struct HcPatch {
    customers: Vec<i64>,
}

impl HcPatch {
    /// Over customer ids.
    #[must_use]
    pub fn new(customers: Vec<i64>) -> Self {
        Self { customers }
    }
}

impl Workload for HcPatch {
    fn next(&self, rng: &mut Rng, _conn: u32, _seq: u64) -> Call {
        let id = pick(rng, &self.customers).copied().unwrap_or_default();
        hc_patch(id, rng.below(1_000_000))
    }
}

/// Scenario 2's request for customer `id`, with values numbered `n`.
fn hc_patch(id: i64, n: usize) -> Call {
    let body = json!({"company": format!("Company {n}"), "notes": format!("Load test note {n}")});
    Call::json(
        Method::PATCH,
        format!("/v1/customers/{id}"),
        &body,
        "application/json",
    )
}

/// The requests that bring a fresh server to the steady state of a node
/// that has served `scenario`'s rows before: a write of every row the
/// scenario writes, once, in the dataset's order, so that the server's
/// document cache (PostgreSQL) holds each as such a node would. Scenarios 1
/// and 3 write conversations (each primed with scenario 1's request),
/// scenario 2 customers; scenario 4 only reads and needs none.
#[must_use]
pub fn priming(scenario: Scenario, data: &Dataset) -> Vec<Call> {
    match scenario {
        Scenario::SoPatch | Scenario::ChatbotEmail => data
            .conversations
            .iter()
            .enumerate()
            .map(|(i, (id, key))| so_patch(*id, key, i))
            .collect(),
        Scenario::HcPatch => data
            .customers
            .iter()
            .enumerate()
            .map(|(i, id)| hc_patch(*id, i))
            .collect(),
        Scenario::SoGet => Vec::new(),
    }
}

/// Scenario 3: `PUT /chatbot/v1/chatlog/email` with a new, unique email,
/// which emits `email_updated` (delivered to the Zapier subscription).
/// Each call is tagged with its email.
#[derive(Debug)]
pub struct ChatbotEmail {
    session_keys: Vec<String>,
    run: String,
}

impl ChatbotEmail {
    /// Over session keys; `run` makes the emails unique across runs.
    #[must_use]
    pub fn new(session_keys: Vec<String>, run: String) -> Self {
        Self { session_keys, run }
    }

    /// The email of call `seq` of connection `conn`.
    #[must_use]
    pub fn email(&self, conn: u32, seq: u64) -> String {
        format!("lg-{}-{conn}-{seq}@bench.example.com", self.run)
    }
}

impl Workload for ChatbotEmail {
    fn next(&self, rng: &mut Rng, conn: u32, seq: u64) -> Call {
        let key = pick(rng, &self.session_keys).cloned().unwrap_or_default();
        let email = self.email(conn, seq);
        let body = json!({"sessionid": key, "email": email});
        Call {
            tag: Some(email),
            ..Call::json(
                Method::PUT,
                "/chatbot/v1/chatlog/email".into(),
                &body,
                "application/json",
            )
        }
    }
}

/// Scenario 4: `GET /api/v1/ChatSession/{id}?$select=…` (the read path).
#[derive(Debug)]
pub struct SoGet {
    ids: Vec<i64>,
}

impl SoGet {
    /// Over conversation ids.
    #[must_use]
    pub fn new(ids: Vec<i64>) -> Self {
        Self { ids }
    }
}

/// The members scenario 4 selects.
pub const SELECT: &str = "ChatSessionId,Status,CustomerName,CustomerEmail,Rank,WhenRequested";

impl Workload for SoGet {
    fn next(&self, rng: &mut Rng, _conn: u32, _seq: u64) -> Call {
        let id = pick(rng, &self.ids).copied().unwrap_or_default();
        Call::get(format!("/api/v1/ChatSession/{id}?$select={SELECT}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn so_patch_is_a_test_and_two_replaces() {
        let w = SoPatch::new(vec![(7, "sess-7".into())]);
        let call = w.next(&mut Rng::new(1), 0, 0);
        assert_eq!(call.path, "/api/v1/ChatSession/7");
        let ops: serde_json::Value = serde_json::from_slice(&call.body).unwrap_or_default();
        let kinds: Vec<&str> = ops
            .as_array()
            .map(|a| a.iter().filter_map(|o| o["op"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(kinds, ["test", "replace", "replace"]);
        assert_eq!(ops[0]["value"], "sess-7");
    }

    #[test]
    fn priming_writes_every_row_a_scenario_writes_once() {
        let data = Dataset {
            tenant_id: 1,
            authorization: "Bearer x".into(),
            customers: vec![11, 12],
            conversations: vec![
                (7, "sess-7".into()),
                (8, "sess-8".into()),
                (9, "sess-9".into()),
            ],
            seed_seconds: 0.0,
        };
        let calls = |scenario| -> Vec<String> {
            priming(scenario, &data)
                .into_iter()
                .map(|c| format!("{} {}", c.method, c.path))
                .collect()
        };
        let sessions = [
            "PATCH /api/v1/ChatSession/7",
            "PATCH /api/v1/ChatSession/8",
            "PATCH /api/v1/ChatSession/9",
        ];
        assert_eq!(calls(Scenario::SoPatch), sessions);
        assert_eq!(calls(Scenario::ChatbotEmail), sessions);
        assert_eq!(
            calls(Scenario::HcPatch),
            ["PATCH /v1/customers/11", "PATCH /v1/customers/12"]
        );
        assert!(calls(Scenario::SoGet).is_empty());
    }

    #[test]
    fn chatbot_emails_are_unique_per_connection_and_sequence() {
        let w = ChatbotEmail::new(vec!["k".into()], "r1".into());
        let a = w.next(&mut Rng::new(1), 0, 0);
        let b = w.next(&mut Rng::new(1), 0, 1);
        let c = w.next(&mut Rng::new(1), 1, 0);
        let tags: Vec<_> = [a, b, c].into_iter().filter_map(|c| c.tag).collect();
        assert_eq!(tags.len(), 3);
        assert_ne!(tags[0], tags[1]);
        assert_ne!(tags[0], tags[2]);
    }
}
