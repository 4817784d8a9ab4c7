//! Per-target bounds: at most N attempts in flight and R attempts per
//! second to one target (scheme, host and port), so a backlog never floods
//! a receiver (Zapier allows about 30 requests per second per hook).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Forget idle targets once the maps grow past this many entries.
const PRUNE_ABOVE: usize = 4096;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Concurrency and rate bounds per target.
#[derive(Debug)]
pub struct TargetLimits {
    concurrency: usize,
    rate: f64,
    burst: f64,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl TargetLimits {
    /// `concurrency` attempts in flight and `rate` attempts per second per
    /// target, with bursts of up to one second's worth.
    #[must_use]
    pub fn new(concurrency: usize, rate: f64) -> Self {
        Self {
            concurrency: concurrency.max(1),
            rate: rate.max(0.001),
            burst: rate.max(1.0),
            slots: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for a slot and a token for `target`; hold the permit while the
    /// attempt runs.
    pub async fn acquire(&self, target: &str) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            let mut slots = lock(&self.slots);
            if slots.len() > PRUNE_ABOVE {
                let max = self.concurrency;
                slots.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < max);
            }
            Arc::clone(
                slots
                    .entry(target.to_string())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.concurrency))),
            )
        };
        let permit = semaphore.acquire_owned().await.ok()?;
        loop {
            match self.take_token(target) {
                None => return Some(permit),
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Takes a token, or says how long until one is available.
    fn take_token(&self, target: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        if buckets.len() > PRUNE_ABOVE {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(target.to_string()).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn tokens_run_out_then_refill() {
        let limits = TargetLimits::new(4, 10.0);
        for _ in 0..10 {
            assert_eq!(limits.take_token("https://a:443"), None);
        }
        let wait = limits.take_token("https://a:443").unwrap();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        // another target has its own bucket
        assert_eq!(limits.take_token("https://b:443"), None);
    }

    #[tokio::test]
    async fn concurrency_per_target() {
        let limits = TargetLimits::new(2, 1000.0);
        let a = limits.acquire("t").await.unwrap();
        let _b = limits.acquire("t").await.unwrap();
        let blocked = tokio::time::timeout(Duration::from_millis(50), limits.acquire("t")).await;
        assert!(blocked.is_err(), "a third slot was granted");
        let _other = limits.acquire("u").await.unwrap();
        drop(a);
        assert!(limits.acquire("t").await.is_some());
    }
}
