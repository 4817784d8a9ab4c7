//! The page layout and small rendering helpers.

use maud::{DOCTYPE, Markup, html};
use switchboard_domain::{
    Actor, Agent, AgentRole, ApiKey, Conversation, ConversationStatus, Timestamp,
};
use switchboard_storage::{ConsoleSession, HistoryEntry};

/// The agent's time zone: the browser's (its `sb_tz` cookie), else UTC.
pub(crate) fn time_zone(req: &actix_web::HttpRequest) -> jiff::tz::TimeZone {
    req.cookie(crate::session::TZ_COOKIE)
        .and_then(|c| jiff::tz::TimeZone::get(c.value()).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC)
}

/// `2026-12-01 09:30 CET`, in `tz`.
pub(crate) fn time(t: Timestamp, tz: &jiff::tz::TimeZone) -> Markup {
    let Ok(ts) = jiff::Timestamp::from_millisecond(t.as_millis()) else {
        return html! { "-" };
    };
    let local = ts.to_zoned(tz.clone());
    html! {
        time datetime=(ts.to_string()) { (local.strftime("%Y-%m-%d %H:%M %Z").to_string()) }
    }
}

/// An optional time, `-` when unset.
pub(crate) fn maybe_time(t: Option<Timestamp>, tz: &jiff::tz::TimeZone) -> Markup {
    t.map_or_else(|| html! { "-" }, |t| time(t, tz))
}

/// A status badge.
pub(crate) fn status(s: ConversationStatus) -> Markup {
    let class = format!("status status-{}", s.as_str().replace(' ', "-"));
    html! { span class=(class) { (s.as_str()) } }
}

/// The headings of [`conversation_cells`].
pub(crate) fn conversation_headings() -> Markup {
    html! {
        th scope="col" { "Conversation" }
        th scope="col" { "Status" }
    }
}

/// The first cells of a conversation's row in a list: its link and its status.
pub(crate) fn conversation_cells(c: &Conversation) -> Markup {
    html! {
        td { a href=(format!("/console/conversations/{}", c.id.get())) { "#" (c.id.get()) } }
        td { (status(c.status)) }
    }
}

/// A whole page.
pub(crate) fn page(title: &str, session: Option<&ConsoleSession>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}"#;
                title { (title) " · Switchboard console" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/htmx.min.js" defer {}
                script src="/console/assets/console.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    a class="brand" href="/console/inbox" { "Switchboard" }
                    @if let Some(s) = session {
                        nav aria-label="Main" {
                            a href="/console/inbox" { "Inbox" }
                            @if s.agent.console_role() == AgentRole::Admin {
                                a href="/console/webhooks" id="nav-webhooks" { "Webhooks" }
                                a href="/console/settings" id="nav-settings" { "Settings" }
                            }
                        }
                        div class="who" {
                            span { (s.agent.name) " · " (s.tenant.name) " · " (s.agent.console_role().as_str()) }
                            form method="post" action="/console/sign-out" {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button type="submit" id="sign-out" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// The page of a refusal or failure.
pub(crate) fn error_page(title: &str, message: &str) -> Markup {
    page(
        title,
        None,
        html! {
            h1 { (title) }
            p class="error" role="alert" { (message) }
            p { a href="/console/inbox" { "Back to the inbox" } }
        },
    )
}

/// A JSON value for display: strings bare, anything else as JSON.
pub(crate) fn value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Who made a change, by name: the tenant's agents and API keys.
pub(crate) struct Names {
    pub(crate) agents: Vec<Agent>,
    pub(crate) keys: Vec<ApiKey>,
}

impl Names {
    /// The tenant's agents and keys.
    pub(crate) async fn of(
        store: &switchboard_storage::Store,
        tenant: switchboard_domain::TenantId,
    ) -> Result<Self, crate::ConsoleError> {
        Ok(Self {
            agents: store.admin().agents(tenant).await?,
            keys: store.admin().api_keys(tenant).await?,
        })
    }

    /// An agent's name, a key's label, the customer or Switchboard.
    pub(crate) fn who(&self, actor: &Actor) -> String {
        match actor {
            Actor::Agent(a) => self
                .agents
                .iter()
                .find(|x| x.id == *a)
                .map_or_else(|| format!("agent {}", a.get()), |x| x.name.clone()),
            Actor::ApiKey(k) => self.keys.iter().find(|x| x.id == *k).map_or_else(
                || format!("key {} (revoked)", k.get()),
                |x| format!("key “{}”", x.name),
            ),
            Actor::Customer => "the customer".into(),
            Actor::System => "Switchboard".into(),
        }
    }
}

/// The history timeline of an entity: every change with its time, who
/// made it, through which API, and the stored RFC 6902 diff.
pub(crate) fn timeline(history: &[HistoryEntry], names: &Names, tz: &jiff::tz::TimeZone) -> Markup {
    html! {
        section class="card" aria-labelledby="h-history" {
            h2 id="h-history" { "History" }
            ol class="timeline" id="history" reversed {
                @for h in history {
                    li {
                        (time(h.at, tz)) " · "
                        strong { (names.who(&h.actor)) } " via " span class="api" { (h.api) }
                        @if h.version_before.is_none() {
                            " · created"
                        } @else {
                            ul {
                                @for op in &h.diff {
                                    li { code { (serde_json::to_string(op).unwrap_or_default()) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A refusal shown on the page it came from.
pub(crate) fn alert(id: &str, message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            p class="error card" role="alert" id=(id) { (m) }
        }
    }
}
