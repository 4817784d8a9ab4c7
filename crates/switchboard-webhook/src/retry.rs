//! What happens after an attempt: success, a retry when, give up, or
//! delete the subscription (410 Gone).

use std::time::{Duration, SystemTime};

use switchboard_domain::Timestamp;
use switchboard_storage::{AttemptOutcome, NextStep};

use crate::WebhookConfig;

/// The facts of one attempt that decide what comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptFacts {
    /// Attempts made, this one included (1 after the first attempt).
    pub attempts: u32,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The response status, if any.
    pub status: Option<u16>,
    /// The parsed `Retry-After` of a 429 or 503 response.
    pub retry_after: Option<Duration>,
}

/// Decides the next step. `random` is a uniform value in `[0, 1)` that
/// places the jitter (pass a fixed value in tests).
///
/// * 2xx → [`NextStep::Succeeded`]; 410 → [`NextStep::Gone`];
/// * otherwise the next schedule entry, spread by ±`jitter`; at least
///   `throttle_delay` after a 429 or a timeout; at least the `Retry-After`
///   of a 429 or 503 (capped at `retry_after_max`);
/// * no entries left → [`NextStep::Failed`].
#[must_use]
pub fn next_step(
    config: &WebhookConfig,
    facts: AttemptFacts,
    now: Timestamp,
    random: f64,
) -> NextStep {
    if facts.outcome == AttemptOutcome::Success {
        return NextStep::Succeeded;
    }
    if facts.status == Some(410) {
        return NextStep::Gone;
    }
    let index = usize::try_from(facts.attempts).unwrap_or(usize::MAX);
    let Some(base) = config.schedule.get(index) else {
        return NextStep::Failed;
    };
    let spread = 1.0 + config.jitter * (2.0 * random.clamp(0.0, 1.0) - 1.0);
    let mut delay = base.mul_f64(spread.max(0.0));
    if facts.status == Some(429) || facts.outcome == AttemptOutcome::Timeout {
        delay = delay.max(config.throttle_delay);
    }
    if matches!(facts.status, Some(429 | 503))
        && let Some(after) = facts.retry_after
    {
        delay = delay.max(after.min(config.retry_after_max));
    }
    let ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 4);
    NextStep::RetryAt(Timestamp::from_millis(now.as_millis().saturating_add(ms)))
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP-date (as a
/// delay from `now`; a date in the past means zero).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use switchboard_webhook::retry::parse_retry_after;
/// assert_eq!(parse_retry_after("120", SystemTime::now()), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
/// ```
#[must_use]
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A uniform random value in `[0, 1)` for the jitter.
#[must_use]
pub fn random_unit() -> f64 {
    let mut b = [0u8; 4];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

#[cfg(test)]
mod tests {

    use super::*;

    fn facts(
        attempts: u32,
        outcome: AttemptOutcome,
        status: Option<u16>,
        retry_after: Option<u64>,
    ) -> AttemptFacts {
        AttemptFacts {
            attempts,
            outcome,
            status,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    fn delay_secs(step: NextStep) -> Option<f64> {
        match step {
            NextStep::RetryAt(t) => Some(t.as_millis() as f64 / 1000.0),
            _ => None,
        }
    }

    #[test]
    fn schedule_jitter_and_floors() {
        use AttemptOutcome::*;
        let c = WebhookConfig::default();
        let now = Timestamp::from_millis(0);
        // (facts, random) -> next
        let cases: &[(AttemptFacts, f64, Option<f64>, &str)] = &[
            (facts(1, Success, Some(200), None), 0.5, None, "succeeded"),
            (facts(1, HttpError, Some(410), None), 0.5, None, "gone"),
            (
                facts(1, HttpError, Some(500), None),
                0.5,
                Some(5.0),
                "second attempt after 5 s",
            ),
            (facts(1, HttpError, Some(500), None), 0.0, Some(4.0), "-20%"),
            (facts(1, HttpError, Some(500), None), 1.0, Some(6.0), "+20%"),
            (
                facts(2, NetworkError, None, None),
                0.5,
                Some(300.0),
                "third after 5 min",
            ),
            (
                facts(9, HttpError, Some(500), None),
                0.5,
                Some(86_400.0),
                "last after 24 h",
            ),
            (facts(10, HttpError, Some(500), None), 0.5, None, "failed"),
            (
                facts(1, HttpError, Some(429), None),
                0.5,
                Some(60.0),
                "429: at least 60 s",
            ),
            (
                facts(1, Timeout, None, None),
                0.5,
                Some(60.0),
                "timeout: at least 60 s",
            ),
            (
                facts(1, HttpError, Some(429), Some(120)),
                0.5,
                Some(120.0),
                "Retry-After honoured",
            ),
            (
                facts(1, HttpError, Some(503), Some(30)),
                0.5,
                Some(30.0),
                "503 Retry-After",
            ),
            (
                facts(1, HttpError, Some(500), Some(30)),
                0.5,
                Some(5.0),
                "Retry-After ignored on 500",
            ),
            (
                facts(1, HttpError, Some(429), Some(10 * 86_400)),
                0.5,
                Some(6.0 * 3600.0),
                "bounded",
            ),
            (
                facts(3, HttpError, Some(429), Some(1)),
                0.5,
                Some(1800.0),
                "schedule wins when longer",
            ),
        ];
        for (f, random, expected, what) in cases {
            let step = next_step(&c, *f, now, *random);
            match expected {
                Some(secs) => assert!(
                    delay_secs(step).is_some_and(|d| (d - secs).abs() < 0.01),
                    "{what}: {step:?}"
                ),
                None => assert!(delay_secs(step).is_none(), "{what}: {step:?}"),
            }
        }
        assert_eq!(
            next_step(&c, facts(1, HttpError, Some(410), None), now, 0.5),
            NextStep::Gone
        );
        assert_eq!(
            next_step(&c, facts(10, HttpError, Some(500), None), now, 0.5),
            NextStep::Failed
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn random_unit_is_in_range() {
        for _ in 0..100 {
            let r = random_unit();
            assert!((0.0..1.0).contains(&r));
        }
    }
}
