//! `GET /console/events`: a Server-Sent Events stream of the tenant's
//! changes.
//!
//! Each outbox event of the agent's tenant becomes one SSE event:
//! `id: <event id>`, `event: change`, `data: {"entity":"conversation","id":12}`.
//! The stream starts after `Last-Event-ID` (what the browser sends when it
//! reconnects), else after `?since=` (the newest event id when the page
//! was rendered), else after the newest event now. It looks for new events
//! whenever [`switchboard_webhook::Wakeup`] is notified (after every
//! successful write request of this process, not after a search sent by
//! `POST`, and whatever else notifies
//! it), and every `console.live_poll` anyway. It ends when the session
//! ends or the server stops (the browser reconnects to a running server).

use std::collections::VecDeque;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use switchboard_domain::TenantId;
use switchboard_storage::Store;
use tokio::sync::watch;

use crate::state::ConsoleState;
use crate::{ConsoleError, session};

/// Events read per query.
const BATCH: u32 = 100;
/// How often the stream checks that its session is still alive.
const SESSION_CHECK: Duration = Duration::from_secs(60);

/// `?since=`.
#[derive(Debug, Deserialize)]
pub(crate) struct Since {
    #[serde(default)]
    since: Option<i64>,
}

struct Stream {
    store: Store,
    tenant: TenantId,
    token: String,
    state: ConsoleState,
    after: i64,
    queue: VecDeque<Bytes>,
    writes: watch::Receiver<u64>,
    stop: watch::Receiver<bool>,
    checked: tokio::time::Instant,
    started: bool,
}

impl Stream {
    /// The next chunk, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Bytes> {
        if !self.started {
            self.started = true;
            // Tell the browser to reconnect quickly, and open the stream.
            return Some(Bytes::from_static(b"retry: 1000\n: live\n\n"));
        }
        loop {
            if let Some(chunk) = self.queue.pop_front() {
                return Some(chunk);
            }
            if *self.stop.borrow() {
                return None;
            }
            match self
                .store
                .console()
                .events_after(self.tenant, self.after, BATCH)
                .await
            {
                Ok(events) if !events.is_empty() => {
                    for (id, kind, entity) in events {
                        self.after = id;
                        let data = serde_json::json!({"entity": kind, "id": entity});
                        self.queue.push_back(Bytes::from(format!(
                            "id: {id}\nevent: change\ndata: {data}\n\n"
                        )));
                    }
                    continue;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "the console's live stream cannot read events");
                }
            }
            let poll = self.state.config.live_poll;
            tokio::select! {
                changed = self.writes.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                changed = self.stop.changed() => {
                    if changed.is_err() || *self.stop.borrow() {
                        return None;
                    }
                }
                () = tokio::time::sleep(poll) => {
                    if self.checked.elapsed() >= SESSION_CHECK {
                        self.checked = tokio::time::Instant::now();
                        let alive = self
                            .store
                            .console()
                            .session(&self.token, self.state.config.session)
                            .await;
                        if !matches!(alive, Ok(Some(_))) {
                            return None;
                        }
                    }
                    // A comment keeps proxies from closing an idle stream.
                    return Some(Bytes::from_static(b": keep-alive\n\n"));
                }
            }
        }
    }
}

/// `GET /console/events`.
pub(crate) async fn events(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    since: web::Query<Since>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::require(&req, &state).await?;
    let token = req
        .cookie(session::SESSION_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    let store = state.store().clone();
    let resume = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let after = match resume.or(since.since) {
        Some(n) => n.max(0),
        None => store.console().last_event_id().await?,
    };
    let stream = Stream {
        tenant: session.tenant.id,
        token,
        writes: state.app.wakeup().subscribe(),
        stop: state.stopping(),
        state: state.get_ref().clone(),
        store,
        after,
        queue: VecDeque::new(),
        checked: tokio::time::Instant::now(),
        started: false,
    };
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        s.next()
            .await
            .map(|chunk| (Ok::<_, actix_web::Error>(chunk), s))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
