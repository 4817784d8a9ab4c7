//! The `switchboard` command: runs the server, administers tenants,
//! API keys, custom attributes, agents and departments, and shows (and
//! requeues) quarantined webhook outbox events.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use switchboard_domain::{AttributeType, CustomAttribute, EventId, Scope, Tenant};
use switchboard_server::config::{self, Overrides, Settings};
use switchboard_server::{demo, logging, redact_url};
use switchboard_storage::{StorageError, Store};

const ABOUT: &str = "Switchboard: a self-hosted store of chat sessions and contacts that speaks several vendors' APIs.";

const LONG_ABOUT: &str = "\
Switchboard: a self-hosted store of chat sessions (conversations) and contacts
(customers) that speaks several vendors' APIs (HelpCrunch, SuperOffice, Zoho
SalesIQ, a chatbot API, Zapier) over one data model.

Quick start (creates ./switchboard.db, seeds a demo tenant, prints an API key
and curl commands to try):

    switchboard serve --demo

Production-style setup:

    switchboard --database-url postgres://app:secret@db/switchboard migrate
    switchboard tenant create acme
    switchboard key create --tenant acme --name zapier --scope customers.READ
    switchboard key revoke --tenant acme 3
    switchboard key create --tenant acme --name admin --scope admin.READ --scope admin.WRITE
    switchboard agent list --tenant acme
    switchboard serve --bind 0.0.0.0:8080 --config /etc/switchboard.toml";

const AFTER_LONG_HELP: &str = "\
Every command takes --database-url (env SWITCHBOARD_DATABASE_URL, default
sqlite://switchboard.db) and --config (env SWITCHBOARD_CONFIG).

Exit codes: 0 success, 1 failure (e.g. the database is unreachable),
2 invalid input (bad arguments or settings, unknown tenant).";

const SERVE_AFTER_LONG_HELP: &str = "\
Settings are layered: built-in defaults, then the --config file, then
SWITCHBOARD_* environment variables, then command-line flags.

Configuration file (TOML; every key optional, unknown keys are errors):

    bind = \"127.0.0.1:8080\"               # SWITCHBOARD_BIND
    database_url = \"sqlite://switchboard.db\"  # SWITCHBOARD_DATABASE_URL
    log = \"info\"                          # SWITCHBOARD_LOG, else RUST_LOG
    log_format = \"text\"                   # SWITCHBOARD_LOG_FORMAT: text | json
    workers = 4                           # SWITCHBOARD_WORKERS (default: CPU cores)
    shutdown_timeout_secs = 30            # SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS

    [api]
    body_limit = 1048576                  # SWITCHBOARD_API_BODY_LIMIT (bytes)
    rate_limit_per_minute = 120           # SWITCHBOARD_API_RATE_LIMIT_PER_MINUTE (per key)
    rate_limit_burst = 120                # SWITCHBOARD_API_RATE_LIMIT_BURST
    max_batch = 10                        # SWITCHBOARD_API_MAX_BATCH
    key_cache_secs = 30                   # SWITCHBOARD_API_KEY_CACHE_SECS
    auth_failures_per_minute = 60         # SWITCHBOARD_API_AUTH_FAILURES_PER_MINUTE (per client address)
    auth_failure_burst = 20               # SWITCHBOARD_API_AUTH_FAILURE_BURST
    trusted_proxies = [\"10.0.0.0/8\"]      # SWITCHBOARD_API_TRUSTED_PROXIES (X-Forwarded-For believed from these)

    [database]
    max_connections = 8                   # SWITCHBOARD_DATABASE_MAX_CONNECTIONS
    connection_timeout_secs = 10          # SWITCHBOARD_DATABASE_CONNECTION_TIMEOUT_SECS
    sqlite_synchronous = \"full\"           # SWITCHBOARD_DATABASE_SQLITE_SYNCHRONOUS: full | normal
    sqlite_busy_timeout_ms = 5000         # SWITCHBOARD_DATABASE_SQLITE_BUSY_TIMEOUT_MS
    sqlite_mmap_mib = 0                   # SWITCHBOARD_DATABASE_SQLITE_MMAP_MIB (reads through a memory map, e.g. 1024; 0: off)
    sqlite_cache_mib = 16                 # SWITCHBOARD_DATABASE_SQLITE_CACHE_MIB (SQLite's page caches, over all connections)
    doc_cache_entries = 20000             # SWITCHBOARD_DATABASE_DOC_CACHE_ENTRIES (PostgreSQL; 0: off)
    doc_cache_mib = 64                    # SWITCHBOARD_DATABASE_DOC_CACHE_MIB (documents' memory; 0: off)
    decoded_cache_mib = 32                # SWITCHBOARD_DATABASE_DECODED_CACHE_MIB (parsed documents reused while unchanged; 0: off)

    [secrets]                             # webhook signing secrets are encrypted at rest
    keys = [\"k2:BASE64\", \"k1:BASE64\"]    # SWITCHBOARD_SECRETS_KEYS=\"k2:...,k1:...\" (first encrypts)
    key_file = \"/etc/switchboard/keys\"     # SWITCHBOARD_SECRETS_KEY_FILE (one id:base64 a line)
                                          # neither: SQLite creates <database>.keys (mode 0600)
                                          # beside the database; PostgreSQL requires keys

    [webhook]                             # delivery worker; see docs/webhooks.md
    enabled = true                        # SWITCHBOARD_WEBHOOK_ENABLED
    allow_private_targets = false         # SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS=1 (tests, local dev only)
    retry_schedule = \"0s,5s,5m,30m,2h,5h,10h,14h,20h,24h\"  # SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE
    jitter = 0.2                          # SWITCHBOARD_WEBHOOK_JITTER
    throttle_delay = \"60s\"                # SWITCHBOARD_WEBHOOK_THROTTLE_DELAY (after 429 or timeout)
    retry_after_max = \"6h\"                # SWITCHBOARD_WEBHOOK_RETRY_AFTER_MAX
    connect_timeout = \"5s\"                # SWITCHBOARD_WEBHOOK_CONNECT_TIMEOUT
    timeout = \"15s\"                       # SWITCHBOARD_WEBHOOK_TIMEOUT
    lease = \"60s\"                         # SWITCHBOARD_WEBHOOK_LEASE
    poll_interval = \"1s\"                  # SWITCHBOARD_WEBHOOK_POLL_INTERVAL
    max_concurrency = 64                  # SWITCHBOARD_WEBHOOK_MAX_CONCURRENCY
    per_target_concurrency = 8            # SWITCHBOARD_WEBHOOK_PER_TARGET_CONCURRENCY
    per_target_rate = 30                  # SWITCHBOARD_WEBHOOK_PER_TARGET_RATE (per second)
    disable_after = \"5d\"                  # SWITCHBOARD_WEBHOOK_DISABLE_AFTER
    shutdown_grace = \"20s\"                # SWITCHBOARD_WEBHOOK_SHUTDOWN_GRACE

    [retention]                           # deleting finished work; see docs/webhooks.md
    enabled = true                        # SWITCHBOARD_RETENTION_ENABLED
    events = \"30d\"                        # SWITCHBOARD_RETENTION_EVENTS (processed outbox events; 0 keeps forever)
    deliveries = \"30d\"                    # SWITCHBOARD_RETENTION_DELIVERIES (finished deliveries and attempts; 0 keeps forever)
    history = \"90d\"                       # SWITCHBOARD_RETENTION_HISTORY (change history; 0 keeps forever)
    interval = \"1m\"                       # SWITCHBOARD_RETENTION_INTERVAL (pause between pruning rounds)
    batch_size = 500                      # SWITCHBOARD_RETENTION_BATCH_SIZE (rows per delete transaction)

    [console]                             # the operator console at /console/; see docs/console.md
    enabled = true                        # SWITCHBOARD_CONSOLE_ENABLED
    session_idle = \"30m\"                  # SWITCHBOARD_CONSOLE_SESSION_IDLE (a session unused this long ends)
    session_lifetime = \"12h\"              # SWITCHBOARD_CONSOLE_SESSION_LIFETIME (from sign-in, used or not)
    sign_in_per_minute = 10               # SWITCHBOARD_CONSOLE_SIGN_IN_PER_MINUTE (per client address, then 429)
    sign_in_burst = 5                     # SWITCHBOARD_CONSOLE_SIGN_IN_BURST
    secure_cookies = \"auto\"               # SWITCHBOARD_CONSOLE_SECURE_COOKIES: auto (TLS or a trusted proxy's
                                          # X-Forwarded-Proto: https) | always
    page_size = 25                        # SWITCHBOARD_CONSOLE_PAGE_SIZE (inbox rows, 1-1000)
    live_poll = \"5s\"                      # SWITCHBOARD_CONSOLE_LIVE_POLL (look for other processes' changes)

Logs go to standard error. Standard output gets the line
`listening on http://ADDR` once the port is bound (useful with --bind
127.0.0.1:0) and, with --demo, the new API key and example requests.

SIGINT (Ctrl-C) and SIGTERM stop the server gracefully: it stops accepting
connections, finishes in-flight requests (up to shutdown_timeout_secs) while
every response carries `Connection: close`, answers requests that still arrive
on open connections 503 with Retry-After, closes idle keep-alive connections,
lets in-flight webhook attempts finish (up to webhook.shutdown_grace; the rest
is released for another worker) and exits with status 0 as soon as that work
is done.

Endpoints: /healthz, /readyz, /metrics (Prometheus), /openapi.json, /docs/.";

#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about = ABOUT, long_about = LONG_ABOUT, after_long_help = AFTER_LONG_HELP)]
struct Cli {
    /// Database: sqlite://PATH (embedded; the default is sqlite://switchboard.db)
    /// or postgres://USER:PASSWORD@HOST:PORT/DATABASE.
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "SWITCHBOARD_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,

    /// TOML configuration file (its keys are listed in `switchboard serve --help`).
    #[arg(long, global = true, value_name = "FILE", env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (applies pending migrations first).
    #[command(after_long_help = SERVE_AFTER_LONG_HELP)]
    Serve(ServeArgs),
    #[command(flatten)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Apply pending database migrations and list the ones applied.
    Migrate,
    /// Manage tenants (companies; every record belongs to one).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage custom attributes (the typed properties of customers' customData).
    #[command(subcommand)]
    Attribute(AttributeCommand),
    /// Manage agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Manage departments.
    #[command(subcommand)]
    Department(DepartmentCommand),
    /// Inspect the webhook outbox: events quarantined because they cannot be fanned out.
    #[command(subcommand)]
    Outbox(OutboxCommand),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on, IP:PORT (default 127.0.0.1:8080; port 0 picks a free port).
    #[arg(long, value_name = "ADDR", env = "SWITCHBOARD_BIND")]
    bind: Option<String>,

    /// Seed a `demo` tenant with sample data (once; existing data is kept), then
    /// print a fresh API key and curl commands to try.
    #[arg(long)]
    demo: bool,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant.
    Create {
        /// 1-63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit.
        name: String,
    },
    /// Delete a tenant with everything it owns: API keys, customers,
    /// conversations, webhook subscriptions and their deliveries, history.
    ///
    /// Its keys stop working at once for new lookups; a running server
    /// that verified one of them less than `api.key_cache_secs` (30 s) ago
    /// still accepts it until then, but finds no data for it and answers
    /// its writes with 401.
    Delete {
        /// The tenant's name.
        name: String,
        /// Confirm: the deletion cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create an API key. The secret is shown once, alone on the last line of output.
    Create {
        /// The tenant the key acts for.
        #[arg(long)]
        tenant: String,
        /// A scope to grant (repeatable). Scopes: customers.READ,
        /// customers.CREATE, customers.UPDATE, conversations.READ,
        /// conversations.CREATE, conversations.UPDATE, webhooks.CREATE,
        /// webhooks.DELETE, admin.READ, admin.WRITE. Without any, the key
        /// gets every scope except the admin ones (those of the admin API,
        /// docs/admin-api.md), which are granted only by name.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<Scope>,
        /// A label for the key, e.g. the integration that uses it.
        #[arg(long, value_name = "LABEL", default_value = "cli")]
        name: String,
    },
    /// List a tenant's API keys (ids, labels, prefixes and scopes; never secrets).
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Revoke (delete) an API key.
    ///
    /// New lookups refuse it at once; a running server that verified it
    /// less than `api.key_cache_secs` (30 s) ago still accepts it until then.
    Revoke {
        /// The tenant the key acts for.
        #[arg(long)]
        tenant: String,
        /// The key's id (from `key create` or `key list`) or its prefix
        /// (`sbk_0123456789ab`, the start of the secret).
        key: String,
    },
}

#[derive(Debug, Subcommand)]
enum AttributeCommand {
    /// Define a custom attribute.
    Create {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The property name used in customData.
        #[arg(long, value_name = "PROP")]
        name: String,
        /// The value type: string, number, boolean, date or url.
        #[arg(long = "type", value_name = "TYPE")]
        kind: AttributeType,
        /// A human label (default: the name).
        #[arg(long)]
        label: Option<String>,
    },
    /// List a tenant's custom attributes (name, type, label), by name.
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Delete a custom attribute. Refused while customers hold a value for
    /// it (clear those values first).
    Delete {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The attribute's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Create an agent.
    Create {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// Email address (the console sign-in; stored in lower case).
        #[arg(long)]
        email: String,
        /// Role: `agent` (works conversations) or `admin` (also manages the tenant).
        #[arg(long, default_value = "agent", value_parser = ["agent", "admin"])]
        role: String,
        /// Read a console password from standard input (its first line, at
        /// least 10 characters), so the agent can sign in at /console/.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set an agent's console password, read from standard input (its first
    /// line, at least 10 characters). Ends the agent's console sessions.
    Password {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The agent's email address.
        #[arg(long)]
        email: String,
    },
    /// List a tenant's agents (id, name, email, role), in id order.
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Delete an agent and end their console sessions. Refused while
    /// conversations are assigned (or being transferred) to them.
    Delete {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The agent's id (from `agent list`) or email address.
        agent: String,
    },
}

#[derive(Debug, Subcommand)]
enum DepartmentCommand {
    /// Create a department.
    Create {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// Department name.
        #[arg(long)]
        name: String,
    },
    /// List a tenant's departments (id, name), in id order.
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
    },
    /// Delete a department. Refused while conversations are routed to it.
    Delete {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// The department's id (from `department list`) or its name.
        department: String,
    },
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// List quarantined outbox events, oldest first, one JSON object per line:
    /// id, tenant_id, event, entity, entity_id, created_at, quarantined_at
    /// (epoch milliseconds), tries and the last error. See docs/webhooks.md.
    Quarantined {
        /// At most this many (1-1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Put a quarantined event back in line (after fixing its cause): it is
    /// due at once, with fresh tries.
    Requeue {
        /// The event's id, as `outbox quarantined` shows it.
        id: i64,
    },
}

/// Invalid input from the user: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

/// jemalloc serves the many small, short-lived allocations of a request
/// (JSON documents, wire conversions) with less CPU than glibc's malloc and
/// a peak RSS well under the aim (`docs/benchmarks.md`).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "exiting after an error");
            eprintln!("error: {error:#}");
            ExitCode::from(exit_code(&error))
        }
    }
}

fn exit_code(error: &anyhow::Error) -> u8 {
    let invalid_input = error.chain().any(|cause| {
        cause.is::<UsageError>()
            || cause.is::<config::ConfigError>()
            || matches!(
                cause.downcast_ref::<StorageError>(),
                Some(StorageError::Domain(_) | StorageError::Conflict(_))
            )
    });
    if invalid_input { 2 } else { 1 }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let Cli {
        database_url,
        config: config_file,
        command,
    } = cli;
    let bind = match &command {
        Command::Serve(args) => args.bind.clone(),
        _ => None,
    };
    let env = |key: &str| std::env::var(key).ok();
    let settings = config::load(
        config_file.as_deref(),
        &env,
        &Overrides { bind, database_url },
    )?;

    match command {
        Command::Serve(ServeArgs { bind: _, demo }) => {
            logging::init(&settings.log, "info")?;
            serve(settings, demo).await
        }
        Command::Admin(admin) => {
            logging::init(&settings.log, "warn")?;
            administer(&settings, admin).await
        }
    }
}

async fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    let Settings {
        server: config,
        log: _,
    } = settings;
    let timeout = config.shutdown_timeout;
    tracing::info!(
        database = %redact_url(&config.database_url),
        bind = %config.bind,
        "starting"
    );
    let server = switchboard_server::start(config).await?;
    let base_url = server.base_url();
    announce(&format!("listening on {base_url}"));
    if demo {
        let data = demo::seed(&server.store)
            .await
            .context("cannot seed the demo tenant")?;
        let key = demo::create_key(&server.store, &data)
            .await
            .context("cannot create the demo API key")?;
        // Before anything is printed: a caller that stops the server once
        // it reads the key finds it serving, with its signals handled.
        let (email, password) = demo::console_admin(&server.store, &data)
            .await
            .context("cannot set the demo admin's console password")?;
        announce(&demo::instructions(&base_url, &key.secret, &data));
        announce(&demo::console_instructions(&base_url, &email, &password));
    } else if !server
        .store
        .admin()
        .has_tenants()
        .await
        .context("cannot read the tenants")?
    {
        announce(&demo::empty_database_hint());
    }
    server
        .run_until(async move {
            let signal = shutdown_signal().await;
            tracing::info!(
                signal,
                timeout_secs = timeout.as_secs(),
                "shutting down gracefully: no new connections, finishing in-flight requests"
            );
        })
        .await?;
    tracing::info!("stopped gracefully");
    Ok(())
}

/// Waits for SIGINT or SIGTERM and returns its name.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

async fn administer(settings: &Settings, command: AdminCommand) -> anyhow::Result<()> {
    let mut store_config = settings.server.store.clone();
    store_config.run_migrations = !matches!(command, AdminCommand::Migrate);
    // No background connection may still be opening when the command
    // exits (on PostgreSQL that can abort the process in libpq's Kerberos
    // code after the command succeeded).
    store_config.min_idle_connections = 0;
    let url = &settings.server.database_url;
    let store = Store::open(url, store_config)
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(url)))?;

    match command {
        AdminCommand::Migrate => {
            let applied = store.migrate().await.context("cannot apply migrations")?;
            if applied.is_empty() {
                println!("the database is up to date; no migrations applied");
            } else {
                for name in &applied {
                    println!("applied {name}");
                }
                println!("{} migration(s) applied", applied.len());
            }
        }
        AdminCommand::Tenant(TenantCommand::Create { name }) => {
            let tenant = store
                .admin()
                .create_tenant(&name)
                .await
                .with_context(|| format!("cannot create tenant {name:?}"))?;
            println!("created tenant {:?} (id {})", tenant.name, tenant.id.get());
        }
        AdminCommand::Tenant(TenantCommand::Delete { name, yes }) => {
            let tenant = find_tenant(&store, &name).await?;
            if !yes {
                return Err(UsageError(format!(
                    "deleting tenant {name:?} deletes all its data and cannot be undone; \
                     run again with --yes to confirm"
                ))
                .into());
            }
            store
                .admin()
                .delete_tenant(&tenant.name)
                .await
                .with_context(|| format!("cannot delete tenant {name:?}"))?;
            println!(
                "deleted tenant {:?} (id {}) and all its data",
                tenant.name,
                tenant.id.get()
            );
        }
        AdminCommand::Key(KeyCommand::List { tenant }) => {
            let tenant = find_tenant(&store, &tenant).await?;
            let keys = store
                .admin()
                .api_keys(tenant.id)
                .await
                .context("cannot list the API keys")?;
            for key in &keys {
                let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
                println!(
                    "{}\t{:?}\tsbk_{}_…\t{}",
                    key.id.get(),
                    key.name,
                    key.prefix,
                    scopes.join(",")
                );
            }
            if keys.is_empty() {
                println!("tenant {:?} has no API keys", tenant.name);
            }
        }
        AdminCommand::Key(KeyCommand::Revoke { tenant, key }) => {
            let tenant = find_tenant(&store, &tenant).await?;
            let revoked = match store.admin().revoke_api_key(tenant.id, &key).await {
                Err(StorageError::NotFound) => {
                    return Err(UsageError(format!(
                        "tenant {:?} has no API key {key:?}; see `switchboard key list --tenant {}`",
                        tenant.name, tenant.name
                    ))
                    .into());
                }
                other => other.context("cannot revoke the API key")?,
            };
            println!(
                "revoked API key {:?} (id {}, sbk_{}_…) of tenant {:?}",
                revoked.name,
                revoked.id.get(),
                revoked.prefix,
                tenant.name
            );
        }
        AdminCommand::Key(KeyCommand::Create {
            tenant,
            scopes,
            name,
        }) => {
            let tenant = find_tenant(&store, &tenant).await?;
            let scopes: BTreeSet<Scope> = scopes.into_iter().collect();
            let created = store
                .admin()
                .create_api_key(tenant.id, &name, scopes)
                .await
                .context("cannot create the API key")?;
            let scopes: Vec<&str> = created.key.scopes.iter().map(|s| s.as_str()).collect();
            println!(
                "created API key {:?} (id {}) for tenant {:?} with scopes: {}",
                created.key.name,
                created.key.id.get(),
                tenant.name,
                scopes.join(", ")
            );
            println!("the secret is shown only now; use it as `Authorization: Bearer <key>`:");
            println!("{}", created.secret);
        }
        AdminCommand::Attribute(AttributeCommand::Create {
            tenant,
            name,
            kind,
            label,
        }) => {
            let tenant = find_tenant(&store, &tenant).await?;
            let attribute = CustomAttribute {
                tenant_id: tenant.id,
                label: label.unwrap_or_else(|| name.clone()),
                name,
                kind,
            };
            store
                .admin()
                .create_attribute(attribute.clone())
                .await
                .with_context(|| format!("cannot create attribute {:?}", attribute.name))?;
            println!(
                "created {} attribute {:?} ({:?}) for tenant {:?}",
                attribute.kind, attribute.name, attribute.label, tenant.name
            );
        }
        AdminCommand::Agent(AgentCommand::Create {
            tenant,
            name,
            email,
            role,
            password_stdin,
        }) => {
            let tenant = find_tenant(&store, &tenant).await?;
            let password = if password_stdin {
                Some(read_password()?)
            } else {
                None
            };
            let email = switchboard_storage::console::normalize_email(&email);
            let agent = store
                .admin()
                .create_agent(tenant.id, &name, &email, &role)
                .await
                .with_context(|| format!("cannot create agent {name:?}"))?;
            if let Some(password) = password {
                store
                    .console()
                    .set_password(tenant.id, &agent.email, &password)
                    .await
                    .map_err(|e| password_error(&e))?;
            }
            println!(
                "created agent {:?} <{}> as {} (id {}) for tenant {:?}",
                agent.name,
                agent.email,
                agent.role,
                agent.id.get(),
                tenant.name
            );
        }
        AdminCommand::Agent(AgentCommand::Password { tenant, email }) => {
            let tenant = find_tenant(&store, &tenant).await?;
            let password = read_password()?;
            let agent = match store
                .console()
                .set_password(tenant.id, &email, &password)
                .await
            {
                Err(StorageError::NotFound) => {
                    return Err(UsageError(format!(
                        "tenant {:?} has no agent with email {email:?}",
                        tenant.name
                    ))
                    .into());
                }
                other => other.map_err(|e| password_error(&e))?,
            };
            println!(
                "set the console password of agent {:?} <{}> of tenant {:?}; their sessions ended",
                agent.name, agent.email, tenant.name
            );
        }
        AdminCommand::Department(DepartmentCommand::Create { tenant, name }) => {
            let tenant = find_tenant(&store, &tenant).await?;
            let department = store
                .admin()
                .create_department(tenant.id, &name)
                .await
                .with_context(|| format!("cannot create department {name:?}"))?;
            println!(
                "created department {:?} (id {}) for tenant {:?}",
                department.name,
                department.id.get(),
                tenant.name
            );
        }
        AdminCommand::Attribute(AttributeCommand::List { tenant }) => {
            list(&store, Kind::Attribute, &tenant).await?;
        }
        AdminCommand::Attribute(AttributeCommand::Delete { tenant, name }) => {
            delete(&store, Kind::Attribute, &tenant, &name).await?;
        }
        AdminCommand::Agent(AgentCommand::List { tenant }) => {
            list(&store, Kind::Agent, &tenant).await?;
        }
        AdminCommand::Agent(AgentCommand::Delete { tenant, agent }) => {
            delete(&store, Kind::Agent, &tenant, &agent).await?;
        }
        AdminCommand::Department(DepartmentCommand::List { tenant }) => {
            list(&store, Kind::Department, &tenant).await?;
        }
        AdminCommand::Department(DepartmentCommand::Delete { tenant, department }) => {
            delete(&store, Kind::Department, &tenant, &department).await?;
        }
        AdminCommand::Outbox(OutboxCommand::Quarantined { limit }) => {
            let events = store
                .worker()
                .quarantined(limit)
                .await
                .context("cannot list quarantined outbox events")?;
            for e in &events {
                let line = serde_json::json!({
                    "id": e.id.get(),
                    "tenant_id": e.tenant_id.get(),
                    "event": e.event_type,
                    "entity": e.entity_kind,
                    "entity_id": e.entity_id,
                    "created_at": e.created_at.as_millis(),
                    "quarantined_at": e.quarantined_at.as_millis(),
                    "tries": e.tries,
                    "error": e.error,
                });
                println!("{line}");
            }
            eprintln!("{} quarantined outbox event(s)", events.len());
        }
        AdminCommand::Outbox(OutboxCommand::Requeue { id }) => {
            let requeued = store
                .worker()
                .requeue(EventId::new(id))
                .await
                .context("cannot requeue the outbox event")?;
            if !requeued {
                return Err(UsageError(format!(
                    "outbox event {id} is not quarantined; list them with `switchboard outbox quarantined`"
                ))
                .into());
            }
            println!("requeued outbox event {id}; it is due at once");
        }
    }
    Ok(())
}

/// The kinds of a tenant's settings that `switchboard <kind> list` and
/// `switchboard <kind> delete` manage the same way.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Attribute,
    Agent,
    Department,
}

impl Kind {
    /// The subcommand, also the noun in messages.
    fn command(self) -> &'static str {
        match self {
            Self::Attribute => "attribute",
            Self::Agent => "agent",
            Self::Department => "department",
        }
    }

    /// What `list` says a tenant has none of.
    fn none(self) -> &'static str {
        match self {
            Self::Attribute => "custom attributes",
            Self::Agent => "agents",
            Self::Department => "departments",
        }
    }
}

/// `switchboard <kind> list`: one line a row, or a line saying there are none.
async fn list(store: &Store, kind: Kind, tenant: &str) -> anyhow::Result<()> {
    let tenant = find_tenant(store, tenant).await?;
    let admin = store.admin();
    let context = || format!("cannot list the {}s", kind.command());
    let lines: Vec<String> = match kind {
        Kind::Attribute => admin
            .attributes(tenant.id)
            .await
            .with_context(context)?
            .values()
            .map(|a| format!("{:?}\t{}\t{:?}", a.name, a.kind, a.label))
            .collect(),
        Kind::Agent => admin
            .agents(tenant.id)
            .await
            .with_context(context)?
            .iter()
            .map(|a| format!("{}\t{:?}\t{}\t{}", a.id.get(), a.name, a.email, a.role))
            .collect(),
        Kind::Department => admin
            .departments(tenant.id)
            .await
            .with_context(context)?
            .iter()
            .map(|d| format!("{}\t{:?}", d.id.get(), d.name))
            .collect(),
    };
    for line in &lines {
        println!("{line}");
    }
    if lines.is_empty() {
        println!("tenant {:?} has no {}", tenant.name, kind.none());
    }
    Ok(())
}

/// `switchboard <kind> delete`: an attribute by its exact name, an agent
/// by id or email, a department by id or name (those two trimmed).
async fn delete(store: &Store, kind: Kind, tenant: &str, wanted: &str) -> anyhow::Result<()> {
    let tenant = find_tenant(store, tenant).await?;
    let admin = store.admin();
    let wanted = match kind {
        Kind::Attribute => wanted,
        Kind::Agent | Kind::Department => wanted.trim(),
    };
    let noun = kind.command();
    let not_found = format!(
        "tenant {:?} has no {noun} {wanted:?}; see `switchboard {noun} list --tenant {}`",
        tenant.name, tenant.name
    );
    let context = format!("cannot delete the {noun}");
    let listed = || format!("cannot list the {noun}s");
    let refused = |e| missing(e, not_found.clone(), &context);
    let unlisted = || UsageError(not_found.clone());
    let done = match kind {
        Kind::Attribute => {
            let removed = admin
                .delete_attribute(tenant.id, wanted)
                .await
                .map_err(refused)?;
            format!(
                "deleted {} attribute {:?} of tenant {:?}",
                removed.kind, removed.name, tenant.name
            )
        }
        Kind::Agent => {
            let email = switchboard_storage::console::normalize_email(wanted);
            let agents = admin.agents(tenant.id).await.with_context(listed)?;
            let found = agents
                .into_iter()
                .find(|a| a.id.get().to_string() == wanted || a.email == email)
                .ok_or_else(unlisted)?;
            let deleted = admin
                .delete_agent(tenant.id, found.id)
                .await
                .map_err(refused)?;
            format!(
                "deleted agent {:?} <{}> (id {}) of tenant {:?}; their console sessions ended",
                deleted.name,
                deleted.email,
                deleted.id.get(),
                tenant.name
            )
        }
        Kind::Department => {
            let departments = admin.departments(tenant.id).await.with_context(listed)?;
            let found = departments
                .into_iter()
                .find(|d| d.id.get().to_string() == wanted || d.name == wanted)
                .ok_or_else(unlisted)?;
            let deleted = admin
                .delete_department(tenant.id, found.id)
                .await
                .map_err(refused)?;
            format!(
                "deleted department {:?} (id {}) of tenant {:?}",
                deleted.name,
                deleted.id.get(),
                tenant.name
            )
        }
    };
    println!("{done}");
    Ok(())
}

/// A failed delete: not found (`not_found` says what to do) and a
/// conflict (the store says why) are invalid input (exit code 2).
fn missing(e: StorageError, not_found: String, context: &str) -> anyhow::Error {
    match e {
        StorageError::NotFound => UsageError(not_found).into(),
        StorageError::Conflict(why) => UsageError(format!("{context}: {why}")).into(),
        other => anyhow::Error::new(other).context(context.to_string()),
    }
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.chars().count() < switchboard_storage::console::MIN_PASSWORD_CHARS {
        return Err(UsageError(format!(
            "the password on standard input must be at least {} characters",
            switchboard_storage::console::MIN_PASSWORD_CHARS
        ))
        .into());
    }
    Ok(password)
}

/// A refused password is invalid input (exit code 2); anything else fails.
fn password_error(e: &StorageError) -> anyhow::Error {
    match e {
        StorageError::Domain(d) => UsageError(format!("password refused: {d}")).into(),
        other => anyhow::anyhow!("cannot set the password: {other}"),
    }
}

async fn find_tenant(store: &Store, name: &str) -> anyhow::Result<Tenant> {
    store
        .admin()
        .tenant_by_name(name)
        .await
        .context("cannot look up the tenant")?
        .ok_or_else(|| {
            UsageError(format!(
                "unknown tenant {name:?}; create it first with `switchboard tenant create {name}`"
            ))
            .into()
        })
}

/// Prints a line of the running server's output to stdout. A server whose
/// stdout was closed (its reader went away) keeps serving: `println!` would
/// panic on the broken pipe and take every request down with it.
fn announce(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(error) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        tracing::warn!(%error, "cannot write to stdout; serving on");
    }
}
