//! Token buckets: per API key (every authenticated request), and per
//! client address (failed authentications only; see [`client_key`]).
//!
//! **Across nodes.** Each node keeps its buckets in memory (no database
//! call on a request's path) and enforces its share of every limit: with
//! `n` live nodes, a bucket holds `burst / n` tokens (at least one) and
//! refills at `per_minute / n`. The number of live nodes comes from a
//! heartbeat through the database every second ([`share_among_live_nodes`],
//! `switchboard_storage::Store::heartbeat`). With requests spread evenly
//! over the nodes (round robin), the sum of the shares is the limit; a key
//! whose requests all reach one node gets only that node's share. See
//! `docs/scaling.md` for the tolerance.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use ipnet::IpNet;

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

/// A token bucket per key (an API key's id, or a client address):
/// `capacity` tokens, refilled at `per_minute / 60` tokens a second.
#[derive(Debug)]
pub struct RateLimiter<K = i64> {
    per_minute: u32,
    capacity: f64,
    refill_per_sec: f64,
    /// Live nodes sharing the limit (1 alone).
    nodes: AtomicU32,
    buckets: Mutex<HashMap<K, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets idle this long are dropped (they would be full anyway).
const IDLE: Duration = Duration::from_secs(600);

impl<K: Eq + Hash + Copy> RateLimiter<K> {
    /// A limiter allowing `per_minute` requests a minute with bursts of `burst`.
    #[must_use]
    pub fn new(per_minute: u32, burst: u32) -> Self {
        let per_minute = per_minute.max(1);
        Self {
            per_minute,
            capacity: f64::from(burst.max(1)),
            refill_per_sec: f64::from(per_minute) / 60.0,
            nodes: AtomicU32::new(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Shares the limit among `nodes` live nodes (at least 1): this node
    /// then allows `1 / nodes` of it.
    pub fn set_nodes(&self, nodes: u32) {
        self.nodes.store(nodes.max(1), Ordering::Relaxed);
    }

    /// The number of nodes the limit is shared among.
    #[must_use]
    pub fn nodes(&self) -> u32 {
        self.nodes.load(Ordering::Relaxed)
    }

    /// Takes one token from `key`'s bucket.
    pub fn check(&self, key: K) -> RateDecision {
        self.check_at(key, Instant::now(), true)
    }

    /// Whether `key`'s bucket has a token, without taking it: the refusal
    /// (with its `Retry-After`) when it has none.
    pub fn exhausted(&self, key: K) -> Option<RateDecision> {
        let d = self.check_at(key, Instant::now(), false);
        (!d.allowed).then_some(d)
    }

    fn check_at(&self, key: K, now: Instant, take: bool) -> RateDecision {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| now.duration_since(b.at) < IDLE);
        }
        let nodes = f64::from(self.nodes());
        let capacity = (self.capacity / nodes).max(1.0);
        let refill_per_sec = self.refill_per_sec / nodes;
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        let elapsed = now.duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * refill_per_sec).min(capacity);
        b.at = now;
        let allowed = b.tokens >= 1.0;
        if allowed && take {
            b.tokens -= 1.0;
        }
        let missing_for_one = (1.0 - b.tokens).max(0.0);
        let missing_for_full = (capacity - b.tokens).max(0.0);
        RateDecision {
            allowed,
            limit: self.per_minute,
            remaining: b.tokens.floor().max(0.0) as u32,
            reset_secs: (missing_for_full / refill_per_sec).ceil() as u64,
            retry_after_secs: if allowed {
                0
            } else {
                ((missing_for_one / refill_per_sec).ceil() as u64).max(1)
            },
        }
    }
}

/// How often a node records its heartbeat and counts the live nodes.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// A node not heard from for this long no longer counts as live.
pub const LIVE_WITHIN: Duration = Duration::from_secs(3);

/// Shares the per-key limit and the failed-authentication limit of `state`
/// among the live nodes on the same database, counting them every
/// [`HEARTBEAT_EVERY`] until `stop` turns true (or its sender is dropped).
/// A heartbeat already started is finished first, so that when this
/// returns no beat of the node is still on its way to the database: a
/// node that leaves the membership after it (`Store::leave`) stays gone.
/// Aborting the task instead does not stop a beat in flight (it runs on
/// the blocking pool), which could record the node again after it left.
/// When the database cannot be reached the last count stays. On SQLite
/// (one node) it returns at once: the count stays 1.
pub async fn share_among_live_nodes(
    state: crate::AppState,
    node: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    if state.store().is_sqlite() {
        return;
    }
    let mut ticker = tokio::time::interval(HEARTBEAT_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return;
                }
                continue;
            }
            _ = ticker.tick() => {}
        }
        match state.store().heartbeat(&node, LIVE_WITHIN).await {
            Ok(nodes) => {
                if nodes != state.limiter().nodes() {
                    tracing::info!(nodes, "rate limits shared among the live nodes");
                }
                state.limiter().set_nodes(nodes);
                state.auth_failures().set_nodes(nodes);
                failing = false;
            }
            Err(error) => {
                if !failing {
                    tracing::warn!(%error, "node heartbeat failed; keeping the last node count");
                }
                failing = true;
            }
        }
    }
}

/// A new node id for the heartbeat: `node-<pid>-<random>`.
#[must_use]
pub fn node_id() -> String {
    crate::token::random_hex(&format!("node-{}-", std::process::id()), 4)
        .unwrap_or_else(|| format!("node-{}", std::process::id()))
}

/// The address a request comes from, for limiting failed authentications:
/// the peer's address, or — only when the peer is one of the
/// `trusted_proxies` — the nearest address in `X-Forwarded-For` that is not
/// a trusted proxy (walking from the right, the entry the proxy added).
/// IPv6 addresses are reduced to their /64 (one host usually has the
/// whole /64), IPv4-mapped ones to IPv4.
#[must_use]
pub fn client_key(req: &HttpRequest, trusted_proxies: &[IpNet]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |a| a.ip());
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    let mut client = peer;
    if trusted(&peer) {
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in forwarded.iter().rev() {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                break;
            };
            client = ip;
            if !trusted(&ip) {
                break;
            }
        }
    }
    match client {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn client_key_trusts_forwarded_for_only_from_trusted_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let req = |peer: &str, xff: Option<&str>| {
            let mut r = TestRequest::default().peer_addr(peer.parse().unwrap());
            if let Some(x) = xff {
                r = r.insert_header(("X-Forwarded-For", x));
            }
            r.to_http_request()
        };
        let key = |peer: &str, xff: Option<&str>, proxies: &[IpNet]| {
            client_key(&req(peer, xff), proxies).to_string()
        };
        // An untrusted peer cannot choose its key by sending the header.
        assert_eq!(
            key("203.0.113.9:1", Some("1.2.3.4"), &proxies),
            "203.0.113.9"
        );
        assert_eq!(key("10.0.0.2:1", Some("1.2.3.4"), &[]), "10.0.0.2");
        // Behind a trusted proxy: the nearest untrusted hop.
        assert_eq!(
            key("10.0.0.2:1", Some("6.6.6.6, 1.2.3.4, 10.0.0.7"), &proxies),
            "1.2.3.4"
        );
        assert_eq!(key("10.0.0.2:1", Some("garbage"), &proxies), "10.0.0.2");
        assert_eq!(key("10.0.0.2:1", None, &proxies), "10.0.0.2");
        // IPv6 by /64.
        assert_eq!(key("[2001:db8:1:2:3:4:5:6]:1", None, &[]), "2001:db8:1:2::");
        assert_eq!(key("[::ffff:198.51.100.1]:1", None, &[]), "198.51.100.1");
    }

    #[test]
    fn each_of_n_nodes_allows_its_share() {
        let l: RateLimiter<u8> = RateLimiter::new(60, 4);
        l.set_nodes(2);
        let t0 = Instant::now();
        let got: Vec<bool> = (0..3).map(|_| l.check_at(1, t0, true).allowed).collect();
        assert_eq!(got, [true, true, false]);
        // Refills at half the rate: one token after two seconds.
        assert!(
            !l.check_at(1, t0 + Duration::from_millis(1500), true)
                .allowed
        );
        assert!(
            l.check_at(1, t0 + Duration::from_millis(2001), true)
                .allowed
        );
        // Never less than one token of capacity.
        l.set_nodes(10);
        assert!(l.check_at(2, t0, true).allowed);
        assert_eq!(l.check_at(2, t0, false).limit, 60);
    }

    #[test]
    fn exhausted_does_not_take_a_token() {
        let l: RateLimiter<u8> = RateLimiter::new(60, 2);
        let t0 = Instant::now();
        assert!(l.check_at(1, t0, false).allowed);
        assert!(l.check_at(1, t0, true).allowed);
        assert!(l.check_at(1, t0, true).allowed);
        assert!(!l.check_at(1, t0, false).allowed);
    }

    #[test]
    fn bucket_refuses_after_burst_and_refills() {
        let l = RateLimiter::new(60, 3);
        let t0 = Instant::now();
        let got: Vec<bool> = (0..4).map(|_| l.check_at(1, t0, true).allowed).collect();
        assert_eq!(got, [true, true, true, false]);
        let refused = l.check_at(1, t0, true);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1);
        assert_eq!(refused.remaining, 0);
        // another key has its own bucket
        assert!(l.check_at(2, t0, true).allowed);
        // one second later one token is back
        assert!(
            l.check_at(1, t0 + Duration::from_millis(1001), true)
                .allowed
        );
        assert!(
            !l.check_at(1, t0 + Duration::from_millis(1002), true)
                .allowed
        );
    }
}
