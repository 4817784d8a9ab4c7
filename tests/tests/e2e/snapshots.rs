//! Wire snapshots: one full response per endpoint and dialect, with its
//! status and `Content-Type`, compared with the accepted `.snap` files in
//! `tests/tests/snapshots/`, so that a renamed, retyped or reordered member
//! shows as a diff. Every test runs on each backend and asserts against the
//! same snapshot: what varies between runs or backends (ids, times, random
//! keys, secrets, ports, latencies) is redacted to a placeholder that still
//! shows the value's form (`"[id]"` for a number, `"[id as string]"`,
//! `"[epoch ms]"`, `"[datetime]+00:00"`, `"zs-[24 hex]"`, …).
//!
//! JSON bodies are kept in the order the server wrote their members (a
//! `serde_json::Value` would sort them). The tests talk HTTP only.
//!
//! After an intended change of the wire, rewrite the snapshots with
//! `INSTA_UPDATE=always cargo test -p switchboard-e2e --test e2e snapshots::`
//! (or `cargo insta review`) and review the diff of the `.snap` files; run
//! once more without it to check that both backends agree.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::e2e::common::unix_now;

#[path = "snapshots/chatbot.rs"]
mod chatbot;
#[path = "snapshots/helpcrunch.rs"]
mod helpcrunch;
#[path = "snapshots/ops.rs"]
mod ops;
#[path = "snapshots/superoffice.rs"]
mod superoffice;
#[path = "snapshots/zapier.rs"]
mod zapier;
#[path = "snapshots/zoho.rs"]
mod zoho;

/// A JSON value that keeps its object members in the order they were read.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses JSON text, keeping member order.
    ///
    /// # Panics
    ///
    /// When `text` is not JSON.
    pub fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    /// `Json::String`.
    pub fn text(s: impl Into<String>) -> Self {
        Self::String(s.into())
    }

    /// An object of these members, in this order.
    pub fn object<K: Into<String>>(members: impl IntoIterator<Item = (K, Self)>) -> Self {
        Self::Object(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct JsonVisitor;

        impl<'de> Visitor<'de> for JsonVisitor {
            type Value = Json;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }

            fn visit_none<E: de::Error>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Bool(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
                Ok(Json::Number(v.into()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Number(v.into()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
                serde_json::Number::from_f64(v)
                    .map(Json::Number)
                    .ok_or_else(|| E::custom("a non-finite number"))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
                Ok(Json::String(v.to_string()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
                Ok(Json::String(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut members = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Json>()? {
                    members.push((key, value));
                }
                Ok(Json::Object(members))
            }
        }

        d.deserialize_any(JsonVisitor)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Null => s.serialize_unit(),
            Self::Bool(b) => s.serialize_bool(*b),
            Self::Number(n) => n.serialize(s),
            Self::String(text) => s.serialize_str(text),
            Self::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Self::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Redaction

/// Anything within this distance of the test run is a time the server took
/// from its clock (a value the test sent, such as a `lastSeen` of 2019, stays).
const NEAR_NOW_SECS: i64 = 7 * 24 * 3600;

fn near_now(secs: i64) -> bool {
    (secs - unix_now()).abs() <= NEAR_NOW_SECS
}

/// `[epoch ms]` / `[epoch s]` when `n` is a Unix time near now.
fn epoch_kind(n: i64) -> Option<&'static str> {
    if near_now(n / 1000) && n > 1_000_000_000_000 {
        Some("epoch ms")
    } else if near_now(n) {
        Some("epoch s")
    } else {
        None
    }
}

/// `[datetime]+01:00` for an ISO 8601 date-time near now: the offset (the
/// zone it is rendered in) stays; the rest goes, fraction of a second
/// included (the server leaves it out when the milliseconds are zero).
fn datetime_token(s: &str) -> Option<String> {
    let ts: jiff::Timestamp = s.parse().ok()?;
    if !near_now(ts.as_second()) {
        return None;
    }
    let offset = if s.ends_with('Z') {
        "Z"
    } else {
        s.get(s.len().saturating_sub(6)..)
            .filter(|o| o.starts_with(['+', '-']))
            .unwrap_or("?")
    };
    Some(format!("[datetime]{offset}"))
}

/// Is this member name an id (`id`, `ChatSessionId`, `delivery_id`, …)?
fn is_id_key(key: &str) -> bool {
    key == "id"
        || key.ends_with("Id")
        || key.ends_with("_id")
        || matches!(key, "customer" | "next_before" | "next_after")
}

/// Replaces runs of 20 or more lowercase hex digits (random keys and ids)
/// with `[N hex]`.
fn redact_hex_runs(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 20 {
            out.push_str(&format!("[{} hex]", run.len()));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_digit() || ('a'..='f').contains(&c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// `/api/v1/ChatSession/12` → `/api/v1/ChatSession/[id]`.
fn redact_path_ids(s: &str) -> String {
    let (path, query) = s.split_once('?').map_or((s, None), |(p, q)| (p, Some(q)));
    let mut out = path
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "[id]"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// `http://127.0.0.1:41234/zap` → `http://127.0.0.1:[port]/zap`.
fn redact_port(s: &str) -> String {
    let Some(scheme_end) = s.find("://") else {
        return s.to_string();
    };
    let rest = &s[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => {
            format!(
                "{}{host}:[port]{}",
                &s[..scheme_end + 3],
                &rest[authority_end..]
            )
        }
        _ => s.to_string(),
    }
}

/// The placeholder of one scalar member (`key` is its member name, or the
/// member holding the array it is in), or `None` to keep it.
fn redact_scalar(key: Option<&str>, v: &Json) -> Option<Json> {
    let key = key.unwrap_or("");
    match v {
        Json::Number(n) => {
            let n = n.as_i64()?;
            if key == "duration_ms" {
                return Some(Json::text("[duration ms]"));
            }
            if is_id_key(key) && n > 0 {
                return Some(Json::text("[id]"));
            }
            epoch_kind(n).map(|k| Json::text(format!("[{k}]")))
        }
        Json::String(s) => {
            if key == "prefix" && s.starts_with("sbk_") {
                return Some(Json::text("sbk_[12 hex]"));
            }
            if key == "secret" {
                return Some(Json::text(match s.strip_prefix("whsec_") {
                    Some(_) => "whsec_[secret]".to_string(),
                    None => "[secret]".to_string(),
                }));
            }
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                let n: i64 = s.parse().ok()?;
                if is_id_key(key) && n > 0 {
                    return Some(Json::text("[id as string]"));
                }
                return epoch_kind(n).map(|k| Json::text(format!("[{k} as string]")));
            }
            if let Some(token) = datetime_token(s) {
                return Some(Json::String(token));
            }
            let mut out = redact_hex_runs(s);
            if out.starts_with('/') && !out.contains(' ') {
                out = redact_path_ids(&out);
            }
            if out.contains("://") {
                out = redact_port(&out);
            }
            (out != *s).then_some(Json::String(out))
        }
        _ => None,
    }
}

/// Redacts every volatile value in `v`, in place.
pub fn redact(v: &mut Json) {
    redact_in(None, v);
}

fn redact_in(key: Option<&str>, v: &mut Json) {
    match v {
        Json::Object(members) => {
            for (k, member) in members.iter_mut() {
                redact_in(Some(k), member);
            }
        }
        Json::Array(items) => {
            for item in items.iter_mut() {
                redact_in(key, item);
            }
        }
        scalar => {
            if let Some(new) = redact_scalar(key, scalar) {
                *scalar = new;
            }
        }
    }
}

/// Redacts the text of every leaf element (`<Name>text</Name>`) of an XML
/// document as the JSON member `Name` would be.
pub fn redact_xml(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        rest = &rest[open..];
        let Some(close) = rest.find('>') else {
            break;
        };
        let tag = &rest[1..close];
        out.push_str(&rest[..=close]);
        rest = &rest[close + 1..];
        let is_plain_open = !tag.is_empty()
            && !tag.starts_with(['/', '?', '!'])
            && !tag.ends_with('/')
            && !tag.contains(' ');
        if !is_plain_open {
            continue;
        }
        let end = format!("</{tag}>");
        let Some(text_end) = rest.find('<') else {
            continue;
        };
        if !rest[text_end..].starts_with(&end) {
            continue;
        }
        let text = &rest[..text_end];
        let value = match text.parse::<i64>() {
            Ok(n) => Json::Number(n.into()),
            Err(_) => Json::text(text),
        };
        match redact_scalar(Some(tag), &value) {
            Some(Json::String(s)) => out.push_str(&s),
            _ => out.push_str(text),
        }
        rest = &rest[text_end..];
    }
    out.push_str(rest);
    out
}

/// Redacts a header value by the header's name.
pub fn redact_header(name: &str, value: &str) -> String {
    match name {
        "last-modified" | "date" => {
            assert!(
                value.parse::<actix_web::http::header::HttpDate>().is_ok(),
                "{name}: {value} is not an HTTP date"
            );
            "[http-date]".to_string()
        }
        "content-length" => "[length]".to_string(),
        "webhook-signature" => value
            .split(' ')
            .map(|sig| match sig.split_once(',') {
                Some((version, _)) => format!("{version},[signature]"),
                None => "[signature]".to_string(),
            })
            .collect::<Vec<_>>()
            .join(" "),
        "host" => redact_port(&format!("http://{value}")).replacen("http://", "", 1),
        _ => match redact_scalar(Some(name), &Json::text(value)) {
            Some(Json::String(s)) => s,
            _ => value.to_string(),
        },
    }
}

/// Prometheus text with the latency-dependent samples (histogram buckets
/// and sums) redacted; counters and counts stay.
pub fn redact_metrics(text: &str) -> String {
    text.lines()
        .map(|line| {
            let sample = !line.starts_with('#');
            let latency = line.contains("_bucket{") || line.contains("_sum");
            match line.rsplit_once(' ') {
                Some((series, _)) if sample && latency => format!("{series} [n]"),
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------
// Capturing and asserting

/// A response, read whole.
#[derive(Debug)]
pub struct Captured {
    /// `METHOD /path?query` of the request, ids redacted.
    pub request: String,
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Captured {
    /// The body as a `serde_json::Value`, for reading ids out of it.
    ///
    /// # Panics
    ///
    /// When the body is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.request, self.text))
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `{status, content_type, [headers], body}` with volatile values redacted.
    /// A JSON body is kept as JSON, any other body as text (multi-line text
    /// as `body_lines`, one string a line, to read well in a diff).
    pub fn wire(&self, headers: &[&str]) -> Json {
        let content_type = self.header("content-type").map(str::to_string);
        let mut members = vec![
            ("status".to_string(), Json::Number(self.status.into())),
            (
                "content_type".to_string(),
                content_type.clone().map_or(Json::Null, Json::String),
            ),
        ];
        if !headers.is_empty() {
            let shown = headers
                .iter()
                .map(|name| {
                    let value = self
                        .header(name)
                        .map_or(Json::Null, |v| Json::String(redact_header(name, v)));
                    ((*name).to_string(), value)
                })
                .collect();
            members.push(("headers".to_string(), Json::Object(shown)));
        }
        let is_json = content_type
            .as_deref()
            .is_some_and(|ct| ct.starts_with("application/json") || ct.contains("+json"));
        let is_xml = content_type.as_deref().is_some_and(|ct| ct.contains("xml"));
        let is_metrics = self.request.ends_with(" /metrics");
        if is_json && !self.text.is_empty() {
            let mut body = Json::parse(&self.text);
            redact(&mut body);
            members.push(("body".to_string(), body));
        } else {
            let text = if is_xml {
                redact_xml(&self.text)
            } else if is_metrics {
                redact_metrics(&self.text)
            } else {
                self.text.clone()
            };
            if text.trim_end_matches('\n').contains('\n') {
                let lines = text.lines().map(Json::text).collect();
                members.push(("body_lines".to_string(), Json::Array(lines)));
            } else {
                members.push(("body".to_string(), Json::String(text)));
            }
        }
        Json::Object(members)
    }

    /// Asserts the redacted [`wire`](Self::wire) form against snapshot `name`.
    pub fn assert(&self, name: &str, headers: &[&str]) {
        assert_snapshot(name, &self.request, &self.wire(headers));
    }
}

/// Asserts `value` against the snapshot `name` in `tests/tests/snapshots/`,
/// described by `description` (the request).
pub fn assert_snapshot(name: &str, description: &str, value: &Json) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(description);
    settings.bind(|| insta::assert_json_snapshot!(name, value));
}

/// Sends `request` and reads the response whole.
///
/// # Panics
///
/// When the request cannot be built or sent, or the body read.
pub async fn send(request: reqwest::RequestBuilder) -> Captured {
    let (client, request) = request.build_split();
    let request = request.unwrap();
    let url = request.url();
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    // Random keys in the path (a generated `sessionid`) are redacted too.
    let label = format!(
        "{} {}",
        request.method(),
        redact_hex_runs(&redact_path_ids(&target))
    );
    let response = client
        .execute(request)
        .await
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("{label}: cannot read the body: {e}"));
    Captured {
        request: label,
        status,
        headers,
        text,
    }
}

/// Sends `request`, asserts its response against snapshot `name`, and
/// returns it (for reading ids out of it).
pub async fn snap(name: &str, request: reqwest::RequestBuilder) -> Captured {
    snap_headers(name, &[], request).await
}

/// [`snap`] of each `(name, request)` in turn.
pub async fn snap_each(cases: Vec<(&str, reqwest::RequestBuilder)>) {
    for (name, request) in cases {
        snap(name, request).await;
    }
}

/// [`snap`], also snapshotting the response headers `headers`.
pub async fn snap_headers(
    name: &str,
    headers: &[&str],
    request: reqwest::RequestBuilder,
) -> Captured {
    let captured = send(request).await;
    captured.assert(name, headers);
    captured
}

#[test]
fn redaction_keeps_the_form_of_each_value() {
    let now_s = unix_now();
    let now_ms = now_s * 1000 + 123;
    let mut v = Json::parse(&format!(
        r#"{{"id": 7, "url": "/api/v2/acme/conversations/7", "chat_id": "zs-0123456789abcdef01234567",
            "start_time": "{now_ms}", "created_at": {now_ms}, "lastSeen": "1570000000", "createdAt": "{now_s}",
            "TopicId": 0, "WhenRequested": "{}", "secret": "whsec_abc=", "sessionid": "sess-1",
            "target_url": "http://127.0.0.1:4321/zap", "tags": [{{"id": "12"}}], "duration_ms": 3}}"#,
        jiff::Timestamp::from_second(now_s).unwrap()
    ));
    redact(&mut v);
    let want = Json::parse(
        r#"{"id": "[id]", "url": "/api/v2/acme/conversations/[id]", "chat_id": "zs-[24 hex]",
            "start_time": "[epoch ms as string]", "created_at": "[epoch ms]", "lastSeen": "1570000000",
            "createdAt": "[epoch s as string]", "TopicId": 0, "WhenRequested": "[datetime]Z",
            "secret": "whsec_[secret]", "sessionid": "sess-1", "target_url": "http://127.0.0.1:[port]/zap",
            "tags": [{"id": "[id as string]"}], "duration_ms": "[duration ms]"}"#,
    );
    assert_eq!(v, want);
    let xml = "<?xml version=\"1.0\"?>\n<E><ChatSessionId>12</ChatSessionId><Rank>3</Rank><User xsi:nil=\"true\"/></E>";
    assert_eq!(
        redact_xml(xml),
        "<?xml version=\"1.0\"?>\n<E><ChatSessionId>[id]</ChatSessionId><Rank>3</Rank><User xsi:nil=\"true\"/></E>"
    );
}
