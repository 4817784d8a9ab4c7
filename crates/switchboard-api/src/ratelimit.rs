//! Per-key token buckets.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The outcome of taking one token, with what the `X-RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Requests per window (`X-RateLimit-Limit`).
    pub limit: u32,
    /// Whole tokens left (`X-RateLimit-Remaining`).
    pub remaining: u32,
    /// Seconds until the bucket is full again (`X-RateLimit-Reset`).
    pub reset_secs: u64,
    /// Seconds until one token is available (`Retry-After`), when refused.
    pub retry_after_secs: u64,
}

/// A token bucket per API key: `capacity` tokens, refilled at
/// `per_minute / 60` tokens a second.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    capacity: f64,
    refill_per_sec: f64,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets idle this long are dropped (they would be full anyway).
const IDLE: Duration = Duration::from_secs(600);

impl RateLimiter {
    /// A limiter allowing `per_minute` requests a minute with bursts of `burst`.
    #[must_use]
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let per_minute = per_minute.max(1);
        Self {
            per_minute,
            capacity: f64::from(burst.max(1)),
            refill_per_sec: f64::from(per_minute) / 60.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `key`'s bucket.
    pub fn check(&self, key: i64) -> RateDecision {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: i64, now: Instant) -> RateDecision {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.duration_since(b.at) < IDLE);
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: self.capacity,
            at: now,
        });
        let elapsed = now.duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.refill_per_sec).min(self.capacity);
        b.at = now;
        let allowed = b.tokens >= 1.0;
        if allowed {
            b.tokens -= 1.0;
        }
        let missing_for_one = (1.0 - b.tokens).max(0.0);
        let missing_for_full = (self.capacity - b.tokens).max(0.0);
        RateDecision {
            allowed,
            limit: self.per_minute,
            remaining: b.tokens.floor().max(0.0) as u32,
            reset_secs: (missing_for_full / self.refill_per_sec).ceil() as u64,
            retry_after_secs: if allowed {
                0
            } else {
                ((missing_for_one / self.refill_per_sec).ceil() as u64).max(1)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refuses_after_burst_and_refills() {
        let l = RateLimiter::new(60, 3);
        let t0 = Instant::now();
        let got: Vec<bool> = (0..4).map(|_| l.check_at(1, t0).allowed).collect();
        assert_eq!(got, [true, true, true, false]);
        let refused = l.check_at(1, t0);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1);
        assert_eq!(refused.remaining, 0);
        // another key has its own bucket
        assert!(l.check_at(2, t0).allowed);
        // one second later one token is back
        assert!(l.check_at(1, t0 + Duration::from_millis(1001)).allowed);
        assert!(!l.check_at(1, t0 + Duration::from_millis(1002)).allowed);
    }
}
