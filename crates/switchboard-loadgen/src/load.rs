//! The load generator: `concurrency` keep-alive HTTP/1.1 connections, each
//! sending its next request as soon as the previous answer arrived (a closed
//! loop, like `wrk` and `pgbench`). Requests that complete during the
//! warm-up are not measured; latencies go into an HDR histogram.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{
    AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, HeaderMap, HeaderName, HeaderValue,
};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::model::{Measurement, histogram};

/// One request of a workload.
#[derive(Debug, Clone)]
pub struct Call {
    /// The method.
    pub method: Method,
    /// Path and query, e.g. `/v1/customers/7`.
    pub path: String,
    /// The body (empty for GET).
    pub body: Bytes,
    /// The body's media type.
    pub content_type: Option<&'static str>,
    /// A label remembered with the time of a successful answer (scenario 3
    /// uses the new email, to match the webhook that follows).
    pub tag: Option<String>,
    /// A group whose latencies are also kept apart (a page walk's page
    /// number), in [`Outcome::buckets`].
    pub bucket: Option<usize>,
}

impl Call {
    /// A `GET` of `path`.
    #[must_use]
    pub fn get(path: String) -> Self {
        Self {
            method: Method::GET,
            path,
            body: Bytes::new(),
            content_type: None,
            tag: None,
            bucket: None,
        }
    }

    /// A request with a JSON document of the media type `content_type`.
    #[must_use]
    pub fn json(
        method: Method,
        path: String,
        body: &serde_json::Value,
        content_type: &'static str,
    ) -> Self {
        Self {
            method,
            path,
            body: Bytes::from(body.to_string()),
            content_type: Some(content_type),
            tag: None,
            bucket: None,
        }
    }
}

/// What a connection sends next.
pub trait Workload: Send + Sync + 'static {
    /// The request number `seq` of connection `conn`.
    fn next(&self, rng: &mut Rng, conn: u32, seq: u64) -> Call;
    /// The status a correct answer has.
    fn expected(&self) -> StatusCode {
        StatusCode::OK
    }
    /// A `Cookie` header for every request (the console's session), sent
    /// besides the `Authorization` header.
    fn cookie(&self) -> Option<&str> {
        None
    }
}

/// A small xorshift generator (random rows without another dependency).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value; 0 is remapped).
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        let n = n.max(1) as u64;
        usize::try_from(self.next_u64() % n).unwrap_or(0)
    }
}

/// How to drive: connections, warm-up and measured time.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Concurrent connections.
    pub concurrency: u32,
    /// Not measured.
    pub warmup: Duration,
    /// Measured.
    pub duration: Duration,
}

impl Plan {
    /// A plan.
    #[must_use]
    pub fn new(concurrency: u32, warmup: Duration, duration: Duration) -> Self {
        Self {
            concurrency: concurrency.max(1),
            warmup,
            duration,
        }
    }
}

/// What [`drive`] measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Throughput, latency and errors in the measured interval.
    pub measurement: Measurement,
    /// Every successful tagged call (warm-up included) and when its answer
    /// arrived.
    pub acks: Vec<(String, Instant)>,
    /// Up to five examples of failures, for the console.
    pub failures: Vec<String>,
    /// Measured latencies of the calls with a [`Call::bucket`], by bucket.
    pub buckets: BTreeMap<usize, hdrhistogram::Histogram<u64>>,
}

struct ConnResult {
    ok: u64,
    errors: u64,
    histogram: hdrhistogram::Histogram<u64>,
    buckets: BTreeMap<usize, hdrhistogram::Histogram<u64>>,
    acks: Vec<(String, Instant)>,
    failures: Vec<String>,
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

fn request(
    addr: SocketAddr,
    authorization: &HeaderValue,
    cookie: Option<&HeaderValue>,
    call: Call,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let mut builder = Request::builder()
        .method(call.method)
        .uri(call.path)
        .header(HOST, addr.to_string())
        .header(AUTHORIZATION, authorization.clone());
    if let Some(cookie) = cookie {
        builder = builder.header(COOKIE, cookie.clone());
    }
    if let Some(ct) = call.content_type {
        builder = builder.header(CONTENT_TYPE, ct);
    }
    Ok(builder.body(Full::new(call.body))?)
}

/// Sends one request on `sender` and reads the whole answer.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

async fn run_connection(
    addr: SocketAddr,
    authorization: HeaderValue,
    workload: Arc<dyn Workload>,
    conn: u32,
    measure_from: Instant,
    end: Instant,
) -> anyhow::Result<ConnResult> {
    let mut result = ConnResult {
        ok: 0,
        errors: 0,
        histogram: histogram()?,
        buckets: BTreeMap::new(),
        acks: Vec::new(),
        failures: Vec::new(),
    };
    let mut rng = Rng::new(u64::from(conn) + 1);
    let mut sender = connect(addr).await?;
    let expected = workload.expected();
    let cookie = workload.cookie().map(HeaderValue::from_str).transpose()?;
    let mut seq = 0u64;
    while Instant::now() < end {
        let call = workload.next(&mut rng, conn, seq);
        seq += 1;
        let (tag, bucket) = (call.tag.clone(), call.bucket);
        let summary = format!("{} {}", call.method, call.path);
        let request = request(addr, &authorization, cookie.as_ref(), call)?;
        let started = Instant::now();
        let answer = exchange(&mut sender, request).await;
        let done = Instant::now();
        let measured = done >= measure_from && done <= end;
        match answer {
            Ok((status, body)) if status == expected => {
                if let Some(tag) = tag {
                    result.acks.push((tag, done));
                }
                if measured {
                    result.ok += 1;
                    let micros = u64::try_from(done.duration_since(started).as_micros())
                        .unwrap_or(u64::MAX)
                        .max(1);
                    result.histogram.saturating_record(micros);
                    if let Some(b) = bucket {
                        match result.buckets.entry(b) {
                            Entry::Occupied(mut h) => h.get_mut().saturating_record(micros),
                            Entry::Vacant(slot) => {
                                slot.insert(histogram()?).saturating_record(micros)
                            }
                        }
                    }
                }
                drop(body);
            }
            Ok((status, body)) => {
                result.errors += 1;
                if result.failures.len() < 5 {
                    result.failures.push(format!(
                        "{summary} → {status}: {}",
                        String::from_utf8_lossy(&body)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    ));
                }
            }
            Err(e) => {
                result.errors += 1;
                if result.failures.len() < 5 {
                    result.failures.push(format!("{summary} → {e:#}"));
                }
                // The connection may be unusable; open a new one.
                sender = connect(addr).await?;
            }
        }
    }
    Ok(result)
}

/// Drives `workload` at `addr` as `plan` says, authenticating every request
/// with the `authorization` header value.
///
/// Every request counts as an error if it fails or answers anything but
/// [`Workload::expected`], warm-up included (an error is an error whenever
/// it happens); only successes in the measured interval count towards
/// throughput and latency.
///
/// # Errors
///
/// When a connection cannot be opened at all.
pub async fn drive(
    addr: SocketAddr,
    authorization: &str,
    workload: Arc<dyn Workload>,
    plan: &Plan,
) -> anyhow::Result<Outcome> {
    let authorization = HeaderValue::from_str(authorization)?;
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let mut tasks = Vec::new();
    for conn in 0..plan.concurrency {
        tasks.push(tokio::spawn(run_connection(
            addr,
            authorization.clone(),
            Arc::clone(&workload),
            conn,
            measure_from,
            end,
        )));
    }
    let mut total = histogram()?;
    let mut outcome = Outcome {
        measurement: Measurement {
            seconds: plan.duration.as_secs_f64(),
            ..Measurement::default()
        },
        acks: Vec::new(),
        failures: Vec::new(),
        buckets: BTreeMap::new(),
    };
    for task in tasks {
        let r = task
            .await
            .map_err(|e| anyhow!("connection task failed: {e}"))??;
        outcome.measurement.ok += r.ok;
        outcome.measurement.errors += r.errors;
        total.add(&r.histogram)?;
        for (b, h) in r.buckets {
            match outcome.buckets.entry(b) {
                Entry::Occupied(mut mine) => mine.get_mut().add(&h)?,
                Entry::Vacant(slot) => {
                    slot.insert(h);
                }
            }
        }
        outcome.acks.extend(r.acks);
        outcome.failures.extend(r.failures);
    }
    outcome.failures.truncate(5);
    outcome.measurement.latency = crate::model::Latency::of(&total);
    Ok(outcome)
}

/// Sends every call of `calls` once, over `concurrency` keep-alive
/// connections, outside any measurement (the priming before a run).
///
/// # Errors
///
/// When a connection cannot be opened or any call fails or answers
/// anything but 200: a priming that did not happen must not pass for one.
pub async fn sweep(
    addr: SocketAddr,
    authorization: &str,
    calls: Vec<Call>,
    concurrency: u32,
) -> anyhow::Result<()> {
    let authorization = HeaderValue::from_str(authorization)?;
    let queue = Arc::new(std::sync::Mutex::new(calls.into_iter()));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (queue, authorization) = (Arc::clone(&queue), authorization.clone());
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await?;
            loop {
                let next = queue
                    .lock()
                    .map_err(|_| anyhow!("the priming queue was poisoned"))?
                    .next();
                let Some(call) = next else {
                    return anyhow::Ok(());
                };
                let summary = format!("{} {}", call.method, call.path);
                let (status, body) =
                    exchange(&mut sender, request(addr, &authorization, None, call)?).await?;
                if status != StatusCode::OK {
                    anyhow::bail!(
                        "priming: {summary} → {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
            }
        }));
    }
    for task in tasks {
        task.await
            .map_err(|e| anyhow!("priming task failed: {e}"))??;
    }
    Ok(())
}

/// One request outside a measurement with these headers, on a fresh
/// connection: the status, the answer's headers and its body.
///
/// # Errors
///
/// When the server cannot be reached.
pub async fn fetch(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(HeaderName, HeaderValue)],
    body: Option<(&'static str, Bytes)>,
) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
    let mut sender = connect(addr).await?;
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, addr.to_string());
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let body = match body {
        Some((media_type, bytes)) => {
            builder = builder.header(CONTENT_TYPE, media_type);
            bytes
        }
        None => Bytes::new(),
    };
    sender.ready().await?;
    let response = sender.send_request(builder.body(Full::new(body))?).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, headers, body))
}

/// One request outside a measurement (setup, `/readyz`): a fresh
/// connection, the status and the body.
///
/// # Errors
///
/// When the server cannot be reached.
pub async fn call_once(
    addr: SocketAddr,
    authorization: Option<&str>,
    method: Method,
    path: &str,
    json: Option<&serde_json::Value>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let mut sender = connect(addr).await?;
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, addr.to_string());
    if let Some(a) = authorization {
        builder = builder.header(AUTHORIZATION, a);
    }
    let body = match json {
        Some(v) => {
            builder = builder.header(CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(v)?)
        }
        None => Bytes::new(),
    };
    exchange(&mut sender, builder.body(Full::new(body))?).await
}

/// The server's `/metrics` text, `None` when it cannot be read (figures
/// drawn from it are then left out, not made up).
pub async fn metrics(addr: SocketAddr) -> Option<String> {
    let (status, body) = call_once(addr, None, Method::GET, "/metrics", None)
        .await
        .ok()?;
    (status == StatusCode::OK).then(|| String::from_utf8_lossy(&body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_spread_and_bounded() {
        let mut rng = Rng::new(0);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            let i = rng.below(10);
            seen[i] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        assert_eq!(rng.below(0), 0);
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }
}
