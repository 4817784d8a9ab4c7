//! A real webhook receiver on loopback for tests: a small HTTP/1.1 server
//! on `127.0.0.1:0` that records every request and answers from a script.
//!
//! ```no_run
//! # async fn demo() {
//! use std::time::Duration;
//! use switchboard_testsupport::receiver::{Receiver, Reply};
//!
//! let receiver = Receiver::start().await;
//! receiver.script("/hook", [Reply::status(500), Reply::status(200)]);
//! let url = receiver.url("/hook"); // http://127.0.0.1:PORT/hook
//! // ... subscribe `url`, trigger an event ...
//! let requests = receiver.wait_for("/hook", 2, Duration::from_secs(30)).await;
//! assert_eq!(requests[0].header("webhook-id"), requests[1].header("webhook-id"));
//! # }
//! ```
//!
//! Requests are recorded as soon as their body is read, before the reply
//! (and its optional delay). Keep-alive connections are served in a loop.
//! Only `Content-Length` bodies are understood (what HTTP clients send for
//! a buffered body).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One answer of the receiver.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: String,
    /// Wait this long before answering (to provoke client timeouts, or to
    /// be a slow receiver).
    pub delay: Duration,
}

impl Reply {
    /// A reply with this status and a short body.
    #[must_use]
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: format!("status {status}"),
            delay: Duration::ZERO,
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Replaces the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// Answers after `delay`.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST`, `GET`…
    pub method: String,
    /// The request target (path and query).
    pub path: String,
    /// Headers, names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// When it was read completely.
    pub at: Instant,
}

impl Received {
    /// The first header of that (case-insensitive) name.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    #[must_use]
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug, Default)]
struct State {
    received: Vec<Received>,
    scripts: HashMap<String, VecDeque<Reply>>,
    defaults: HashMap<String, Reply>,
    default: Option<Reply>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running receiver; stopped when dropped.
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    arrived: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Starts a receiver on `127.0.0.1:0` that answers 200 by default.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("cannot bind the test receiver: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"));
        let state = Arc::new(Mutex::new(State::default()));
        let arrived = Arc::new(Notify::new());
        let task = tokio::spawn(accept_loop(
            listener,
            Arc::clone(&state),
            Arc::clone(&arrived),
        ));
        Self {
            addr,
            state,
            arrived,
            task,
        }
    }

    /// The bound address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` + `path`.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://localhost:PORT` + `path` (a host name that resolves to loopback).
    #[must_use]
    pub fn localhost_url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.addr.port())
    }

    /// Queues replies for the next requests to `path`, in order; after
    /// them, `path`'s default (see [`set_default`](Self::set_default)) applies.
    pub fn script(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.state)
            .scripts
            .entry(path.to_string())
            .or_default()
            .extend(replies);
    }

    /// The reply for `path` once its script is used up (default: 200).
    pub fn set_default(&self, path: &str, reply: Reply) {
        lock(&self.state).defaults.insert(path.to_string(), reply);
    }

    /// The reply for every path without a script or default of its own.
    pub fn set_default_all(&self, reply: Reply) {
        lock(&self.state).default = Some(reply);
    }

    /// Every request so far, in arrival order.
    #[must_use]
    pub fn requests(&self) -> Vec<Received> {
        lock(&self.state).received.clone()
    }

    /// The requests to `path` so far.
    #[must_use]
    pub fn requests_to(&self, path: &str) -> Vec<Received> {
        lock(&self.state)
            .received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits until at least `n` requests to `path` arrived, then returns
    /// them all.
    ///
    /// # Panics
    ///
    /// After `timeout`, with what did arrive.
    pub async fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Received> {
        self.wait_until(
            n,
            timeout,
            || self.requests_to(path),
            |got| {
                format!(
                    "{n} request(s) to {path}; got {}: {:?}",
                    got.len(),
                    got.iter().map(Received::text).collect::<Vec<_>>()
                )
            },
        )
        .await
    }

    /// Waits until at least `n` requests arrived in total.
    ///
    /// # Panics
    ///
    /// After `timeout`.
    pub async fn wait_for_total(&self, n: usize, timeout: Duration) -> Vec<Received> {
        self.wait_until(
            n,
            timeout,
            || self.requests(),
            |got| format!("{n} request(s); got {}", got.len()),
        )
        .await
    }

    /// Polls `requests` until it has at least `n`, waking whenever one
    /// arrives; after `timeout`, panics with what `what` says of the last poll.
    async fn wait_until(
        &self,
        n: usize,
        timeout: Duration,
        requests: impl Fn() -> Vec<Received>,
        what: impl Fn(&[Received]) -> String,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            let got = requests();
            if got.len() >= n {
                return got;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "waited {timeout:?} for {}", what(&got));
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<Mutex<State>>, arrived: Arc<Notify>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, Arc::clone(&state), Arc::clone(&arrived)));
    }
}

async fn serve(stream: TcpStream, state: Arc<Mutex<State>>, arrived: Arc<Notify>) {
    let mut stream = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut stream).await else {
            return;
        };
        let reply = {
            let mut s = lock(&state);
            let reply = s
                .scripts
                .get_mut(&request.path)
                .and_then(VecDeque::pop_front)
                .or_else(|| s.defaults.get(&request.path).cloned())
                .or_else(|| s.default.clone())
                .unwrap_or_else(|| Reply::status(200));
            s.received.push(request);
            reply
        };
        arrived.notify_waiters();
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        let mut head = format!(
            "HTTP/1.1 {} Test\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n",
            reply.status,
            reply.body.len()
        );
        for (name, value) in &reply.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let out = stream.get_mut();
        if out.write_all(head.as_bytes()).await.is_err()
            || out.write_all(reply.body.as_bytes()).await.is_err()
            || out.flush().await.is_err()
        {
            return;
        }
    }
}

async fn read_request(stream: &mut BufReader<TcpStream>) -> Option<Received> {
    let mut line = String::new();
    let mut head_len = 0usize;
    // Skip blank lines between requests.
    loop {
        line.clear();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    head_len += line.len();
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        head_len += line.len();
        if head_len > MAX_HEAD {
            return None;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return None;
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.ok()?;
    Some(Received {
        method,
        path,
        headers,
        body,
        at: Instant::now(),
    })
}
