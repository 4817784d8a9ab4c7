//! Embedding the store: open an SQLite file, create a tenant, a custom
//! attribute, a customer and a conversation, change the conversation under a
//! precondition, and print its change history and outbox events.
//!
//! ```sh
//! cargo run -p switchboard-storage --example embed              # a temporary file
//! cargo run -p switchboard-storage --example embed -- my.db     # this file
//! ```

use std::error::Error;
use std::path::PathBuf;

use serde_json::json;
use switchboard_domain::{
    Actor, AttributeType, Conversation, ConversationStatus, CustomAttribute, Customer, Tag,
};
use switchboard_storage::{
    ModifyError, Precondition, StorageError, Store, StoreConfig, WriteContext,
};

fn main() -> Result<(), Box<dyn Error>> {
    // The store's calls are async; any Tokio runtime will do.
    let runtime = tokio::runtime::Builder::new_multi_thread().build()?;
    // Keep the temporary directory (if any) alive until the end.
    let (path, _dir) = match std::env::args_os().nth(1) {
        Some(path) => (PathBuf::from(path), None),
        None => {
            // (`tempfile`, re-exported by the test-support crate.)
            let dir = switchboard_testsupport::tempfile::tempdir()?;
            (dir.path().join("switchboard.db"), Some(dir))
        }
    };
    runtime.block_on(run(&format!("sqlite://{}", path.display())))
}

async fn run(url: &str) -> Result<(), Box<dyn Error>> {
    let store = Store::open(url, StoreConfig::default()).await?;
    println!("opened {url}");

    let admin = store.admin();
    let tenant = match admin.tenant_by_name("acme").await? {
        Some(tenant) => tenant,
        None => admin.create_tenant("acme").await?,
    };
    let ctx = WriteContext::new(tenant.clone(), Actor::System, "example");

    let plan = CustomAttribute {
        tenant_id: tenant.id,
        name: "plan".into(),
        kind: AttributeType::String,
        label: "Plan".into(),
    };
    match admin.create_attribute(plan).await {
        Ok(()) | Err(StorageError::Conflict(_)) => {} // defined by an earlier run
        Err(e) => return Err(e.into()),
    }

    let mut customer = Customer::new(tenant.id, store.now());
    customer.name = Some("Ada Lovelace".into());
    customer.email = Some("ada@example.com".into());
    customer.tags = vec![Tag::new("vip")];
    customer
        .custom_data
        .insert("plan".into(), json!("enterprise"));
    let customer = store.customers().create(&ctx, customer).await?;
    println!("customer {} (version {})", customer.id, customer.version);

    let session_key = format!("chat-{}", store.now().as_millis());
    let mut draft = Conversation::new(tenant.id, session_key, store.now());
    draft.customer_id = Some(customer.id);
    draft.visitor.name = Some("Ada".into());
    let conversations = store.conversations();
    let conv = conversations.create(&ctx, draft).await?;
    println!("conversation {} (version {})", conv.id, conv.version);

    // A conditional write, as an HTTP `If-Match: "1"` would make it.
    let expected = Precondition::version(conv.version);
    let conv = conversations
        .update(&ctx, conv.id, expected, |c| {
            c.visitor.email = Some("ada@example.com".into());
            c.status = ConversationStatus::Opened;
            c.custom_info
                .insert("source".into(), json!({"page": "/pricing"}));
        })
        .await?;
    println!(
        "modified: version {}, status {}",
        conv.version,
        conv.status.as_str()
    );

    // The same precondition again is stale now: nothing is written.
    let stale = conversations
        .update(&ctx, conv.id, expected, |c| c.rating = Some(1))
        .await;
    println!(
        "stale write: {}",
        stale.err().map_or("accepted?".into(), |e| e.to_string())
    );

    // A change may refuse with its own error type; nothing is written.
    let refused = conversations
        .modify(&ctx, conv.id, Precondition::NONE, |c| {
            if c.assignee_id.is_none() {
                return Err("assign the conversation before rating it");
            }
            c.rating = Some(5);
            Ok(())
        })
        .await;
    if let Err(ModifyError::Rejected(why)) = refused {
        println!("refused by the change itself: {why}");
    }

    println!("\nhistory (newest first):");
    for entry in conversations.history(tenant.id, conv.id, 10).await? {
        let paths: Vec<&str> = entry.diff.iter().map(|op| op.path()).collect();
        println!(
            "  #{} {:?} via {}: {} -> {}, changed {paths:?}",
            entry.id,
            entry.actor,
            entry.api,
            version(entry.version_before),
            version(entry.version_after),
        );
    }

    println!("\noutbox events:");
    for e in conversations.events(tenant.id, conv.id).await? {
        let payload: String = e.event.payload.to_string().chars().take(100).collect();
        println!(
            "  #{} {} ({} -> {}) {payload}…",
            e.id,
            e.event.event_type,
            version(e.event.version_before),
            version(e.event.version_after),
        );
    }
    println!(
        "\nunprocessed outbox events in total: {}",
        store.worker().outbox_backlog().await?
    );
    Ok(())
}

/// `v3`, or `-` for none (before a create, after a delete).
fn version(v: Option<i64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("v{v}"))
}
