//! Connection draining for a graceful stop.
//!
//! actix-web's own graceful stop keeps serving requests on open keep-alive
//! connections until its shutdown timeout, so a busy client never lets go.
//! [`Drain`] adds what an operator expects of a SIGTERM:
//!
//! 1. **Draining**: no new connections (the listener is paused), and every
//!    response carries `Connection: close`, so each open connection ends
//!    after its current request.
//! 2. **Closing**, once no request is in flight: a request that still
//!    arrives on an open connection is answered `503` with
//!    `Connection: close` and `Retry-After: 1` at once, without being
//!    processed, so it is safe to retry elsewhere.
//! 3. The server is then stopped at once, closing the idle connections.
//!
//! Requests in flight are counted by [`Drain::serve`] (a middleware), so
//! the stop waits exactly as long as the in-flight work takes, bounded by
//! the shutdown timeout.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};
use tokio::sync::Notify;
use tokio::time::Instant;

const SERVING: u8 = 0;
const DRAINING: u8 = 1;
const CLOSING: u8 = 2;

/// The shared drain state of one server (all its worker threads).
#[derive(Debug, Default)]
pub(crate) struct Drain {
    phase: AtomicU8,
    in_flight: AtomicUsize,
    idle: Notify,
}

/// Counts one request in flight for as long as it lives.
struct InFlight(Arc<Drain>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Drain {
    /// The middleware: counts the request, refuses it while closing, and
    /// asks the client to close the connection once draining has begun.
    pub(crate) async fn serve<B: MessageBody + 'static>(
        self: Arc<Self>,
        req: ServiceRequest,
        next: Next<B>,
    ) -> Result<ServiceResponse<impl MessageBody + use<B>>, Error> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let counted = InFlight(Arc::clone(&self));
        if self.phase.load(Ordering::SeqCst) == CLOSING {
            let response = HttpResponse::ServiceUnavailable()
                .insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")))
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .body(r#"{"error":"the server is shutting down; retry"}"#);
            let mut res = req.into_response(response);
            res.response_mut()
                .head_mut()
                .set_connection_type(ConnectionType::Close);
            return Ok(res.map_body(|_, body| CountedBody {
                body,
                _in_flight: counted,
            }));
        }
        let mut res = next.call(req).await?.map_into_boxed_body();
        if self.phase.load(Ordering::SeqCst) != SERVING {
            res.response_mut()
                .head_mut()
                .set_connection_type(ConnectionType::Close);
        }
        Ok(res.map_body(|_, body| CountedBody {
            body,
            _in_flight: counted,
        }))
    }

    /// Starts draining: responses from now on close their connection.
    pub(crate) fn begin(&self) {
        self.phase.store(DRAINING, Ordering::SeqCst);
    }

    /// Waits until no request is in flight, then refuses new ones and waits
    /// for those that slipped in; gives up at `deadline`. Returns whether
    /// every request finished.
    pub(crate) async fn finish(&self, deadline: Instant) -> bool {
        let drained = self.quiet(deadline).await;
        self.phase.store(CLOSING, Ordering::SeqCst);
        drained && self.quiet(deadline).await
    }

    /// Waits until no request is in flight or `deadline` passes.
    async fn quiet(&self, deadline: Instant) -> bool {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.in_flight.load(Ordering::SeqCst) == 0;
            }
        }
    }

    /// Requests in flight now.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}

/// A response body that keeps its request counted as in flight until the
/// server has taken its last byte (actix drops the body then).
struct CountedBody {
    body: BoxBody,
    _in_flight: InFlight,
}

impl MessageBody for CountedBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> actix_web::body::BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<actix_web::web::Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// After the last request is done, how long its connection gets to flush
/// the final bytes before the server closes every connection.
pub(crate) const FLUSH_GRACE: Duration = Duration::from_millis(100);
