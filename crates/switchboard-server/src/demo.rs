//! Demo data for `switchboard serve --demo`: a `demo` tenant with agents,
//! departments, custom attributes, customers and conversations in every
//! status, written through the [`Store`] like any other change.
//!
//! [`seed`] is idempotent: each record is looked up first (agents by email,
//! departments and attributes by name, customers by email, conversations by
//! session key) and only missing ones are created, so a restart never
//! duplicates data and an interrupted seed is completed by the next one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};
use switchboard_domain::{
    Actor, Agent, AttributeType, Conversation, ConversationStatus, CustomAttribute, Customer,
    Department, Scope, Tag, Tenant, Timestamp, Visitor,
};
use switchboard_storage::{CreatedKey, Precondition, StorageError, Store, WriteContext, now};

/// The demo tenant's name.
pub const TENANT: &str = "demo";

/// What the demo tenant holds after [`seed`].
#[derive(Debug, Clone)]
pub struct Demo {
    /// The `demo` tenant.
    pub tenant: Tenant,
    /// The demo agents, in a fixed order.
    pub agents: Vec<Agent>,
    /// The demo departments, in a fixed order.
    pub departments: Vec<Department>,
    /// The demo custom attributes.
    pub attributes: Vec<CustomAttribute>,
    /// The demo customers, in a fixed order (the first has a `userId`).
    pub customers: Vec<Customer>,
    /// The demo conversations, in a fixed order (the first is `new`).
    pub conversations: Vec<Conversation>,
    /// How many records this call created (0 when everything existed).
    pub created: usize,
}

struct AgentSpec {
    name: &'static str,
    email: &'static str,
    role: &'static str,
}

const AGENTS: [AgentSpec; 3] = [
    AgentSpec {
        name: "Grace Hopper",
        email: "grace@demo.example.com",
        role: "admin",
    },
    AgentSpec {
        name: "Alan Turing",
        email: "alan@demo.example.com",
        role: "agent",
    },
    AgentSpec {
        name: "Katherine Johnson",
        email: "katherine@demo.example.com",
        role: "supervisor",
    },
];

const DEPARTMENTS: [&str; 2] = ["Support", "Sales"];

const ATTRIBUTES: [(&str, AttributeType, &str); 5] = [
    ("plan", AttributeType::String, "Plan"),
    ("seats", AttributeType::Number, "Seats"),
    ("trial", AttributeType::Boolean, "On trial"),
    ("renewal", AttributeType::Date, "Renewal date"),
    ("homepage", AttributeType::Url, "Homepage"),
];

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn ago(t: Timestamp, days: i64) -> Timestamp {
    Timestamp::from_millis((t.as_millis() - days * DAY_MS).max(0))
}

fn map(value: Value) -> BTreeMap<String, Value> {
    match value {
        Value::Object(m) => m.into_iter().collect(),
        _ => BTreeMap::new(),
    }
}

fn tag(name: &str, color: &str) -> Tag {
    Tag {
        name: name.to_string(),
        color: color.to_string(),
    }
}

struct CustomerSpec {
    user_id: Option<&'static str>,
    name: &'static str,
    email: &'static str,
    company: &'static str,
    tags: Vec<Tag>,
    custom_data: Value,
}

/// The demo customers as drafts (storage assigns ids and versions).
fn customer_drafts(tenant: &Tenant, t: Timestamp) -> Vec<Customer> {
    let renewal = ago(t, -90).as_unix_seconds();
    let specs = [
        CustomerSpec {
            user_id: Some("ada-1815"),
            name: "Ada Lovelace",
            email: "ada@demo.example.com",
            company: "Analytical Engines Ltd",
            tags: vec![tag("vip", "#e53935"), tag("beta", "#1e88e5")],
            custom_data: json!({"plan": "enterprise", "seats": 25, "trial": false, "renewal": renewal,
                                "homepage": "https://ada.demo.example.com"}),
        },
        CustomerSpec {
            user_id: Some("charles-1791"),
            name: "Charles Babbage",
            email: "charles@demo.example.com",
            company: "Difference Engines plc",
            tags: vec![tag("beta", "#1e88e5")],
            custom_data: json!({"plan": "pro", "seats": 5, "trial": true}),
        },
        CustomerSpec {
            user_id: None,
            name: "Marie Curie",
            email: "marie@demo.example.com",
            company: "Radium Institute",
            tags: vec![Tag::new("lead")],
            custom_data: json!({"plan": "free"}),
        },
        CustomerSpec {
            user_id: Some("tesla-1856"),
            name: "Nikola Tesla",
            email: "nikola@demo.example.com",
            company: "Wardenclyffe Inc",
            tags: vec![tag("vip", "#e53935")],
            custom_data: json!({"plan": "pro", "seats": 12, "homepage": "https://tesla.demo.example.com"}),
        },
        CustomerSpec {
            user_id: None,
            name: "Emmy Noether",
            email: "emmy@demo.example.com",
            company: "Invariants GmbH",
            tags: Vec::new(),
            custom_data: json!({"trial": true}),
        },
    ];
    specs
        .into_iter()
        .zip(0_i64..)
        .map(|(spec, i)| {
            let mut c = Customer::new(tenant.id, t);
            c.user_id = spec.user_id.map(str::to_string);
            c.name = Some(spec.name.to_string());
            c.email = Some(spec.email.to_string());
            c.company = Some(spec.company.to_string());
            c.locale = Some("en".to_string());
            c.source = Some("demo".to_string());
            c.created_from = Some("demo".to_string());
            c.first_seen = Some(ago(t, 40 - i * 7));
            c.last_seen = Some(ago(t, i));
            c.tags = spec.tags;
            c.custom_data = map(spec.custom_data);
            c
        })
        .collect()
}

struct ConversationSpec {
    session_key: &'static str,
    status: ConversationStatus,
    visitor: (&'static str, Option<&'static str>, &'static str),
    /// Index into the demo customers.
    customer: Option<usize>,
    /// Index into the demo agents.
    assignee: Option<usize>,
    /// Index into the demo departments.
    department: Option<usize>,
    message: &'static str,
    rating: Option<i32>,
}

const CONVERSATIONS: [ConversationSpec; 6] = [
    ConversationSpec {
        session_key: "demo-chat-1",
        status: ConversationStatus::New,
        visitor: ("Ada Lovelace", Some("ada@demo.example.com"), "GB"),
        customer: Some(0),
        assignee: None,
        department: Some(0),
        message: "Hi! Can I add seats in the middle of a billing cycle?",
        rating: None,
    },
    ConversationSpec {
        session_key: "demo-chat-2",
        status: ConversationStatus::Opened,
        visitor: ("Charles Babbage", Some("charles@demo.example.com"), "GB"),
        customer: Some(1),
        assignee: Some(1),
        department: Some(0),
        message: "The export button does nothing in Firefox.",
        rating: None,
    },
    ConversationSpec {
        session_key: "demo-chat-3",
        status: ConversationStatus::Pending,
        visitor: ("Marie Curie", Some("marie@demo.example.com"), "FR"),
        customer: Some(2),
        assignee: Some(2),
        department: Some(1),
        message: "Do you offer discounts for research institutes?",
        rating: None,
    },
    ConversationSpec {
        session_key: "demo-chat-4",
        status: ConversationStatus::OnHold,
        visitor: ("Nikola Tesla", Some("nikola@demo.example.com"), "US"),
        customer: Some(3),
        assignee: Some(0),
        department: Some(1),
        message: "We need an invoice with our VAT number on it.",
        rating: None,
    },
    ConversationSpec {
        session_key: "demo-chat-5",
        status: ConversationStatus::Closed,
        visitor: ("Emmy Noether", Some("emmy@demo.example.com"), "DE"),
        customer: Some(4),
        assignee: Some(1),
        department: Some(0),
        message: "Thanks, the import works now!",
        rating: Some(5),
    },
    ConversationSpec {
        session_key: "demo-chat-6",
        status: ConversationStatus::NoCommunication,
        visitor: ("Visitor 4711", None, "NO"),
        customer: None,
        assignee: None,
        department: None,
        message: "hello?",
        rating: None,
    },
];

/// Creates whatever part of the demo tenant is missing and returns all of it.
///
/// # Errors
///
/// Any storage error; what was created before it stays, and the next call
/// completes the rest.
pub async fn seed(store: &Store) -> Result<Demo, StorageError> {
    let mut created = 0;
    let tenant = match store.admin().tenant_by_name(TENANT).await? {
        Some(tenant) => tenant,
        None => {
            created += 1;
            store.admin().create_tenant(TENANT).await?
        }
    };
    let ctx = WriteContext::new(tenant.clone(), Actor::System, "demo");

    let existing = store.admin().agents(tenant.id).await?;
    let mut agents = Vec::with_capacity(AGENTS.len());
    for spec in &AGENTS {
        let agent = match existing.iter().find(|a| a.email == spec.email) {
            Some(agent) => agent.clone(),
            None => {
                created += 1;
                store
                    .admin()
                    .create_agent(tenant.id, spec.name, spec.email, spec.role)
                    .await?
            }
        };
        agents.push(agent);
    }

    let existing = store.admin().departments(tenant.id).await?;
    let mut departments = Vec::with_capacity(DEPARTMENTS.len());
    for name in DEPARTMENTS {
        let department = match existing.iter().find(|d| d.name == name) {
            Some(department) => department.clone(),
            None => {
                created += 1;
                store.admin().create_department(tenant.id, name).await?
            }
        };
        departments.push(department);
    }

    let existing = store.admin().attributes(tenant.id).await?;
    let mut attributes = Vec::with_capacity(ATTRIBUTES.len());
    for (name, kind, label) in ATTRIBUTES {
        let attribute = match existing.get(name) {
            Some(attribute) => attribute.clone(),
            None => {
                let attribute = CustomAttribute {
                    tenant_id: tenant.id,
                    name: name.to_string(),
                    kind,
                    label: label.to_string(),
                };
                store.admin().create_attribute(attribute.clone()).await?;
                created += 1;
                attribute
            }
        };
        attributes.push(attribute);
    }

    let existing = all_customers(store, &tenant).await?;
    let mut customers = Vec::new();
    for draft in customer_drafts(&tenant, now()) {
        let found = existing
            .iter()
            .find(|c| c.email.is_some() && c.email == draft.email);
        let customer = match found {
            Some(customer) => customer.clone(),
            None => {
                created += 1;
                store.customers().create(&ctx, draft).await?
            }
        };
        customers.push(customer);
    }

    let mut conversations = Vec::with_capacity(CONVERSATIONS.len());
    for spec in &CONVERSATIONS {
        if let Some(id) = store
            .conversations()
            .id_by_session_key(tenant.id, spec.session_key)
            .await?
        {
            conversations.push(store.conversations().get(tenant.id, id).await?);
            continue;
        }
        let t = now();
        let mut draft = Conversation::new(tenant.id, spec.session_key, ago(t, 1));
        let (name, email, country) = spec.visitor;
        draft.visitor = Visitor {
            name: Some(name.to_string()),
            email: email.map(str::to_string),
            country: Some(country.to_string()),
            host: Some("www.demo.example.com".to_string()),
            ..Visitor::default()
        };
        draft.customer_id = spec.customer.and_then(|i| customers.get(i)).map(|c| c.id);
        draft.assignee_id = spec.assignee.and_then(|i| agents.get(i)).map(|a| a.id);
        draft.agent_ids = draft.assignee_id.into_iter().collect();
        draft.department_id = spec
            .department
            .and_then(|i| departments.get(i))
            .map(|d| d.id);
        draft.first_message = Some(spec.message.to_string());
        draft.last_message = Some(spec.message.to_string());
        draft.last_message_at = Some(t);
        draft.last_customer_message_at = Some(t);
        draft.rating = spec.rating;
        draft.created_with = Some("demo".to_string());
        draft.custom_info = map(json!({
            "page": "https://www.demo.example.com/pricing",
            "widget": "v2",
            "referrer": "newsletter",
        }));
        let mut conversation = store.conversations().create(&ctx, draft).await?;
        created += 1;
        if spec.status != conversation.status {
            let status = spec.status;
            conversation = store
                .conversations()
                .update(&ctx, conversation.id, Precondition::NONE, move |c| {
                    c.set_status(status, Actor::System, now());
                })
                .await?;
        }
        conversations.push(conversation);
    }

    if created > 0 {
        tracing::info!(tenant = TENANT, created, "seeded demo data");
    }
    Ok(Demo {
        tenant,
        agents,
        departments,
        attributes,
        customers,
        conversations,
        created,
    })
}

async fn all_customers(store: &Store, tenant: &Tenant) -> Result<Vec<Customer>, StorageError> {
    const PAGE: u32 = 1000;
    let mut all: Vec<Customer> = Vec::new();
    loop {
        let page = store
            .customers()
            .list(tenant.id, all.last().map(|c| c.id), PAGE)
            .await?;
        let done = page.len() < PAGE as usize;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

/// Creates a fresh API key with every scope for the demo tenant, the
/// admin scopes included (named: a key without scopes would lack them),
/// so the demo's key can try the admin API too.
///
/// # Errors
///
/// Any storage error.
pub async fn create_key(store: &Store, demo: &Demo) -> Result<CreatedKey, StorageError> {
    store
        .admin()
        .create_api_key(demo.tenant.id, "demo", Scope::ALL.into_iter().collect())
        .await
}

/// The text `serve --demo` prints: what was seeded, the key, and curl
/// commands against `base_url` that use the real ids.
#[must_use]
pub fn instructions(base_url: &str, key: &str, demo: &Demo) -> String {
    let customer = demo.customers.first().map_or(1, |c| c.id.get());
    let chat = demo.conversations.first().map_or(1, |c| c.id.get());
    let auth = format!("-H \"Authorization: Bearer {key}\"");
    let json = "-H 'Content-Type: application/json'";
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Demo tenant \"{}\": {} agents, {} departments, {} custom attributes, {} customers, {} conversations{}.",
        demo.tenant.name,
        demo.agents.len(),
        demo.departments.len(),
        demo.attributes.len(),
        demo.customers.len(),
        demo.conversations.len(),
        if demo.created == 0 {
            " (already there)"
        } else {
            ""
        },
    );
    let _ = writeln!(
        out,
        "A new API key with every scope (shown only now; each start makes a fresh one):"
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "API key: {key}");
    let _ = writeln!(out);
    let session = demo
        .conversations
        .first()
        .map_or("demo-session-1", |c| c.session_key.as_str());
    let portal = &demo.tenant.name;
    let zoho = format!("-H \"Authorization: Zoho-oauthtoken {key}\"");
    let _ = write!(
        out,
        "Try (one example per API; the ids are the demo's):\n\
         \x20 curl {base_url}/healthz\n\
         \x20 # HelpCrunch (REST API v1)\n\
         \x20 curl {auth} {base_url}/v1/customers/{customer}\n\
         \x20 curl -X PATCH {auth} {json} -d '{{\"name\":\"Ada King\"}}' {base_url}/v1/customers/{customer}\n\
         \x20 curl -X PUT {auth} {json} -d '{{\"id\":{chat},\"status\":\"closed\"}}' {base_url}/v1/chats/status\n\
         \x20 # SuperOffice (ChatSession)\n\
         \x20 curl {auth} {base_url}/api/v1/ChatSession/{chat}\n\
         \x20 curl -X PATCH {auth} -H 'Content-Type: application/merge-patch+json' -d '{{\"CustomerName\":\"Ada\"}}' {base_url}/api/v1/ChatSession/{chat}\n\
         \x20 # Zoho SalesIQ (screen name \"{portal}\")\n\
         \x20 curl {zoho} {base_url}/api/v2/{portal}/conversations/{chat}\n\
         \x20 curl -X PUT {zoho} {json} -d '{{\"customer_info\":{{\"plan\":\"gold\"}}}}' {base_url}/api/v2/{portal}/conversations/{chat}\n\
         \x20 # chatbot\n\
         \x20 curl -X PUT {auth} {json} -d '{{\"sessionid\":\"{session}\",\"email\":\"ada@example.com\"}}' {base_url}/chatbot/v1/chatlog/email\n\
         \x20 # Zapier (REST hooks)\n\
         \x20 curl {auth} {base_url}/zapier/v1/me\n\
         \x20 curl {auth} {base_url}/zapier/v1/samples/email_updated\n\
         \x20 curl -X POST {auth} {json} -d '{{\"event\":\"email_updated\",\"target_url\":\"https://hooks.zapier.com/hooks/catch/YOUR/HOOK/\"}}' {base_url}/zapier/v1/hooks\n\
         API docs: {base_url}/docs/   Metrics: {base_url}/metrics\n"
    );
    out
}

/// The text `serve` prints when the database has no tenant yet: no
/// request can authenticate until one and a key exist.
#[must_use]
pub fn empty_database_hint() -> String {
    "The database has no tenant yet, so no API key can work. Create one and a key \
     (with the same --database-url or --config), then send the key as \
     `Authorization: Bearer <key>`:\n\
     \x20 switchboard tenant create acme\n\
     \x20 switchboard key create --tenant acme\n\
     Or start with sample data: switchboard serve --demo"
        .to_string()
}

/// Gives the demo tenant's admin (the first demo agent, an `admin`) a
/// fresh random console password; returns the email and the password.
/// Each start makes a new one (and ends the admin's earlier sessions).
///
/// # Errors
///
/// Any storage error, or when the system's random source fails.
pub async fn console_admin(store: &Store, demo: &Demo) -> anyhow::Result<(String, String)> {
    // 24 characters of 16 without look-alikes: 96 random bits.
    const ALPHABET: &[u8; 16] = b"abcdefghjkmnpqrs";
    let admin = demo
        .agents
        .iter()
        .find(|a| a.role == "admin")
        .ok_or_else(|| anyhow::anyhow!("the demo tenant has no admin"))?;
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)?;
    let password: String = bytes
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0f])
        .map(|n| char::from(ALPHABET[usize::from(n)]))
        .collect();
    let agent = store
        .console()
        .set_password(demo.tenant.id, &admin.email, &password)
        .await?;
    Ok((agent.email, password))
}

/// The console lines `serve --demo` prints.
#[must_use]
pub fn console_instructions(base_url: &str, email: &str, password: &str) -> String {
    format!(
        "Operator console: {base_url}/console/\n  sign in as {email} with password {password}\n  (a fresh password each start)"
    )
}
