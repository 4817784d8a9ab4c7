//! The benchmark's data: one tenant with an all-scopes API key, customers,
//! and conversations (each linked to a customer, with a visitor), written
//! through the storage crate like any other change.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::Context as _;
use serde_json::json;
use switchboard_domain::{Actor, Conversation, Customer, Tenant};
use switchboard_storage::{CreatedKey, SqliteSync, Store, StoreConfig, WriteContext, now};

/// The benchmark tenant's name.
pub const TENANT: &str = "loadgen";

/// What the workloads need to know about the data.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The tenant's id.
    pub tenant_id: i64,
    /// `Bearer <secret>` for an all-scopes key of the tenant.
    pub authorization: String,
    /// Customer ids.
    pub customers: Vec<i64>,
    /// `(conversation id, session key)`.
    pub conversations: Vec<(i64, String)>,
    /// Seconds the seeding took.
    pub seed_seconds: f64,
}

/// How many rows to create.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Customers.
    pub customers: usize,
    /// Conversations (linked round-robin to the customers).
    pub conversations: usize,
}

/// How many creates run at once while seeding (PostgreSQL groups their
/// commits; SQLite serializes them anyway).
const SEED_PARALLELISM: usize = 8;

/// Creates the dataset in the (new, empty) database at `url`, applying the
/// migrations first. SQLite is seeded with `synchronous = NORMAL` (seeding
/// is not measured; the server later opens it with its own setting).
///
/// # Errors
///
/// When the database cannot be opened or a write fails.
pub async fn seed(url: &str, size: Size) -> anyhow::Result<Dataset> {
    let started = Instant::now();
    let store = open_for_seeding(url, u32::try_from(SEED_PARALLELISM).unwrap_or(8)).await?;
    let (tenant, key) = tenant_with_key(&store).await?;
    let ctx = WriteContext::new(tenant.clone(), Actor::System, "loadgen");

    let customers = in_parallel(size.customers, |i| {
        let (store, ctx) = (store.clone(), ctx.clone());
        async move {
            let mut c = Customer::new(ctx.tenant.id, now());
            c.user_id = Some(format!("user-{i}"));
            c.name = Some(format!("Customer {i}"));
            c.email = Some(format!("customer{i}@bench.example.com"));
            c.company = Some(format!("Company {}", i % 500));
            c.locale = Some("en".into());
            let c = store.customers().create(&ctx, c).await?;
            Ok(c.id.get())
        }
    })
    .await?;

    let linked = customers.clone();
    let conversations = in_parallel(size.conversations, move |i| {
        let (store, ctx) = (store.clone(), ctx.clone());
        let customer = linked.get(i % linked.len().max(1)).copied();
        async move {
            let mut c = Conversation::new(ctx.tenant.id, format!("bench-{i:06}"), now());
            c.customer_id = customer.map(switchboard_domain::CustomerId::new);
            c.visitor.name = Some(format!("Visitor {i}"));
            c.visitor.email = Some(format!("visitor{i}@bench.example.com"));
            c.visitor.country = Some("Norway".into());
            c.first_message = Some("Hello, I have a question about my order.".into());
            c.custom_info
                .insert("plan".into(), json!({"tier": i % 3, "seats": 10}));
            let c = store.conversations().create(&ctx, c).await?;
            Ok((c.id.get(), c.session_key))
        }
    })
    .await?;

    Ok(Dataset {
        tenant_id: tenant.id.get(),
        authorization: format!("Bearer {}", key.secret),
        customers,
        conversations,
        seed_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Opens (and migrates) the database at `url` for seeding, with
/// `max_connections`: SQLite with `synchronous = NORMAL` (seeding is not
/// measured; the server later opens it with its own setting), secrets
/// sealed with the test key the benchmark's server gets too.
///
/// # Errors
///
/// When the database cannot be opened or migrated.
pub async fn open_for_seeding(url: &str, max_connections: u32) -> anyhow::Result<Store> {
    let config = StoreConfig {
        sqlite_synchronous: SqliteSync::Normal,
        max_connections,
        secret_keys: switchboard_storage::SecretKeySource::keys(
            switchboard_testsupport::SECRET_KEYS,
        )?,
        ..StoreConfig::default()
    };
    let store = Store::open(url, config)
        .await
        .with_context(|| format!("cannot open {url}"))?;
    store.migrate().await?;
    Ok(store)
}

/// Creates the benchmark tenant ([`TENANT`]) and an all-scopes key for it.
///
/// # Errors
///
/// When a write fails (the tenant exists already, say).
pub async fn tenant_with_key(store: &Store) -> anyhow::Result<(Tenant, CreatedKey)> {
    let tenant = store.admin().create_tenant(TENANT).await?;
    let key = store
        .admin()
        .create_api_key(tenant.id, "loadgen", BTreeSet::new())
        .await?;
    Ok((tenant, key))
}

/// Runs `make(i)` for `0..n`, [`SEED_PARALLELISM`] at a time, and returns
/// the results in index order.
async fn in_parallel<T, F, Fut>(n: usize, make: F) -> anyhow::Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let end = (start + SEED_PARALLELISM * 16).min(n);
        let mut tasks = Vec::with_capacity(end - start);
        // Each task creates a contiguous slice so ids stay in index order.
        for lane in 0..SEED_PARALLELISM {
            let items: Vec<usize> = (start..end)
                .filter(|i| i % SEED_PARALLELISM == lane)
                .collect();
            let futures: Vec<Fut> = items.iter().map(|&i| make(i)).collect();
            tasks.push(tokio::spawn(async move {
                let mut done = Vec::with_capacity(futures.len());
                for (i, f) in items.into_iter().zip(futures) {
                    done.push((i, f.await?));
                }
                Ok::<_, anyhow::Error>(done)
            }));
        }
        let mut chunk = Vec::with_capacity(end - start);
        for task in tasks {
            chunk.extend(task.await??);
        }
        chunk.sort_by_key(|(i, _)| *i);
        out.extend(chunk.into_iter().map(|(_, v)| v));
        start = end;
    }
    Ok(out)
}
