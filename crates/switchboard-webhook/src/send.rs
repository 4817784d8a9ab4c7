//! One attempt: sign, POST with the dedicated client, read a capped
//! response, and decide what comes next.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use switchboard_domain::Timestamp;
use switchboard_storage::{AttemptOutcome, AttemptReport, Clock, DueDelivery, sanitize_text};

use crate::WebhookConfig;
use crate::retry::{AttemptFacts, next_step, parse_retry_after, random_unit};
use crate::signing::{headers, signature_header};
use crate::target::{GuardedResolver, TargetError, check_literal, parse_target};

/// Longest failure description kept in an attempt record.
const MAX_ERROR_LEN: usize = 300;

/// Builds the delivery client: connect and total timeouts, no redirects,
/// no proxies, and the [`GuardedResolver`] for the SSRF guard.
pub(crate) fn client(config: &WebhookConfig) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(GuardedResolver::shared(config.targets))
        .user_agent(config.user_agent.as_str())
        .pool_max_idle_per_host(config.per_target_concurrency)
        .build()
}

/// The target key for per-target bounds: `scheme://host:port`.
pub(crate) fn target_key(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}:{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => url.to_string(),
    }
}

struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    excerpt: Option<String>,
}

struct Failure {
    outcome: AttemptOutcome,
    error: String,
}

impl Failure {
    fn new(outcome: AttemptOutcome, error: impl Into<String>) -> Self {
        let error: String = error.into();
        let error = sanitize_text(&error, MAX_ERROR_LEN).into_owned();
        Self { outcome, error }
    }
}

/// Makes one attempt of `d` and reports it, with the next step decided.
pub(crate) async fn attempt(
    client: &reqwest::Client,
    config: &WebhookConfig,
    clock: &Clock,
    d: &DueDelivery,
) -> AttemptReport {
    let started_at = clock.now();
    let timer = Instant::now();
    let result = post(client, config, d, started_at).await;
    let duration = timer.elapsed();
    let (outcome, status, error, excerpt, retry_after) = match result {
        Ok(a) => {
            let outcome = if (200..300).contains(&a.status) {
                AttemptOutcome::Success
            } else {
                AttemptOutcome::HttpError
            };
            (outcome, Some(a.status), None, a.excerpt, a.retry_after)
        }
        Err(f) => (f.outcome, None, Some(f.error), None, None),
    };
    let facts = AttemptFacts {
        attempts: d.attempt_count.saturating_add(1),
        outcome,
        status,
        retry_after,
    };
    AttemptReport {
        delivery_id: d.id,
        started_at,
        duration,
        status_code: status,
        outcome,
        error,
        response_excerpt: excerpt,
        next: next_step(config, facts, clock.now(), random_unit()),
        lease_until: d.lease_until,
    }
}

async fn post(
    client: &reqwest::Client,
    config: &WebhookConfig,
    d: &DueDelivery,
    now: Timestamp,
) -> Result<Answer, Failure> {
    let refused = |e: TargetError| refusal(d, &e);
    let url = parse_target(&d.subscription.target_url).map_err(refused)?;
    check_literal(&url, config.targets).map_err(refused)?;
    let body = serde_json::to_vec(&d.payload)
        .map_err(|e| Failure::new(AttemptOutcome::Refused, format!("payload: {e}")))?;
    let mut secrets = vec![d.subscription.secret.as_str()];
    if let (Some(previous), Some(until)) = (
        d.subscription.previous_secret.as_deref(),
        d.subscription.previous_secret_expires_at,
    ) && until > now
    {
        secrets.push(previous);
    }
    let signature = signature_header(&secrets, &d.message_id, now.as_unix_seconds(), &body)
        .map_err(|e| Failure::new(AttemptOutcome::Refused, format!("signing secret: {e}")))?;
    let mut response = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header(headers::ID, d.message_id.as_str())
        .header(headers::TIMESTAMP, now.as_unix_seconds().to_string())
        .header(headers::SIGNATURE, signature)
        .body(body)
        .send()
        .await
        .map_err(|e| classify(d, &e))?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    // Read at most `response_read_limit` bytes; a failure while reading the
    // body does not change the status that arrived.
    let mut read: Vec<u8> = Vec::new();
    while read.len() < config.response_read_limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = config.response_read_limit - read.len();
                read.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    let excerpt = (!read.is_empty()).then(|| excerpt(&read, config.excerpt_limit));
    Ok(Answer {
        status,
        retry_after,
        excerpt,
    })
}

/// The stored excerpt of a response body: valid UTF-8 (invalid sequences
/// become U+FFFD), without NUL (PostgreSQL's `text` refuses it), at most
/// `limit` bytes, cut on a character boundary.
fn excerpt(body: &[u8], limit: usize) -> String {
    // Decode a little more than `limit`, so that a character cut at the
    // limit is dropped whole instead of turning into U+FFFD.
    let read = &body[..body.len().min(limit.saturating_add(3))];
    sanitize_text(&String::from_utf8_lossy(read), limit).into_owned()
}

/// A target the SSRF guard refused: the attempt log (which the tenant
/// reads) says only that the target is not allowed; the operator's log
/// names the host and the address it resolved to.
fn refusal(d: &DueDelivery, e: &TargetError) -> Failure {
    tracing::warn!(
        delivery = d.id.get(),
        subscription = d.subscription.id.get(),
        detail = %e.detail(),
        "webhook target refused by the SSRF guard"
    );
    Failure::new(AttemptOutcome::Refused, e.to_string())
}

/// Sorts a client error into refused (SSRF guard), timeout or network error.
fn classify(d: &DueDelivery, e: &reqwest::Error) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut root = e.to_string();
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<TargetError>() {
            return refusal(d, t);
        }
        root = s.to_string();
        source = s.source();
    }
    if e.is_timeout() {
        return Failure::new(
            AttemptOutcome::Timeout,
            "no complete response within the timeout",
        );
    }
    let kind = if e.is_connect() { "connect" } else { "request" };
    Failure::new(
        AttemptOutcome::NetworkError,
        format!("{kind} error: {root}"),
    )
}

#[cfg(test)]
mod tests {
    use super::excerpt;

    #[test]
    fn excerpts_are_clean_utf8_within_the_limit() {
        let cases: [(&[u8], usize, &str); 6] = [
            (b"ok", 1024, "ok"),
            (b"ok\0", 1024, "ok\u{fffd}"),
            (b"\0\0\0\0", 4, "\u{fffd}"),
            (b"ok\xff\xfe", 1024, "ok\u{fffd}\u{fffd}"),
            // A character cut at the limit is dropped whole.
            ("aé".as_bytes(), 2, "a"),
            (b"abcdef", 3, "abc"),
        ];
        for (body, limit, want) in cases {
            let got = excerpt(body, limit);
            assert_eq!(got, want, "{body:?}");
            assert!(got.len() <= limit && !got.contains('\0'), "{body:?}");
        }
    }
}
