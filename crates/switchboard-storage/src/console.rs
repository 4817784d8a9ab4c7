//! The operator console's sign-in: agents' passwords and console
//! sessions, and the tenant's newest events for live pages; the
//! [`Console`] handle.
//!
//! * **Passwords** are stored as Argon2id PHC strings (the `argon2` crate's
//!   defaults: 19 MiB, 2 passes, 1 lane, a 16-byte random salt). Hashing
//!   and verifying run on Tokio's blocking pool without holding a database
//!   connection.
//! * **Sessions** are server-side: the browser holds a random 256-bit token,
//!   the database only its SHA-256 (a stolen database cannot be replayed as
//!   a session). A session ends on sign-out, on a password change, after
//!   [`SessionPolicy::idle`] without a request, or [`SessionPolicy::max_age`]
//!   after sign-in, whichever comes first. Each session has its own CSRF
//!   token.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use switchboard_domain::validate::ValidationErrors;
use switchboard_domain::{Agent, AgentId, DomainError, Tenant, TenantId, Timestamp};

use crate::sql;
use crate::{StorageError, Store, keys};

/// How many agents of different tenants may share one email before a
/// sign-in must name its tenant.
pub const MAX_SIGN_IN_CANDIDATES: usize = 8;

/// How long console sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long has ended.
    pub idle: Duration,
    /// A session older than this has ended, used or not.
    pub max_age: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            max_age: Duration::from_secs(12 * 3600),
        }
    }
}

/// A signed-in agent's session.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    /// Row id.
    pub id: i64,
    /// The agent's tenant.
    pub tenant: Tenant,
    /// The agent.
    pub agent: Agent,
    /// The session's CSRF token (every state-changing form carries it).
    pub csrf: String,
    /// When the agent signed in.
    pub created_at: Timestamp,
}

/// A new session: `token` goes into the cookie and is never stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie value.
    pub token: String,
    /// The session.
    pub session: ConsoleSession,
}

/// What a sign-in attempt found.
#[derive(Debug, Clone)]
pub enum SignIn {
    /// The email and password match exactly one agent.
    Agent(Agent),
    /// No agent has this email and password.
    Refused,
    /// Agents of several tenants have this email and password: the
    /// attempt must name the tenant.
    Ambiguous,
}

/// The console's sign-in and sessions; from [`Store::console`].
#[derive(Debug, Clone, Copy)]
pub struct Console<'a> {
    store: &'a Store,
}

fn invalid(path: &str, code: &'static str, message: &str) -> StorageError {
    DomainError::Validation(ValidationErrors::single(path, code, message)).into()
}

/// The smallest password length accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The largest password length accepted (Argon2 takes any length; this
/// bounds the work an attacker can ask for).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Hashes `password` with Argon2id and a fresh salt (a PHC string).
///
/// # Errors
///
/// When the system's random source fails.
pub fn hash_password(password: &str) -> Result<String, StorageError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(StorageError::internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| StorageError::internal(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StorageError::internal(e.to_string()))
}

/// Whether `password` matches the PHC string `hash` (a malformed hash
/// matches nothing).
#[must_use]
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash of a password nobody has, verified when no agent matches so a
/// refused sign-in costs the same time whether or not the email exists.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("switchboard-decoy-password").unwrap_or_default())
}

/// The email as stored and looked up: trimmed, lower case.
#[must_use]
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StorageError::internal(e.to_string()))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl<'a> Console<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Sets the password of the tenant's agent with `email` (and ends the
    /// agent's sessions); returns the agent, or [`StorageError::NotFound`].
    pub async fn set_password(
        self,
        tenant: TenantId,
        email: &str,
        password: &str,
    ) -> Result<Agent, StorageError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(invalid(
                "/password",
                "length",
                "must be at least 10 characters",
            ));
        }
        if password.len() > MAX_PASSWORD_BYTES || password.contains('\0') {
            return Err(invalid(
                "/password",
                "length",
                "must be at most 1024 bytes, without NUL",
            ));
        }
        let email = normalize_email(email);
        let password = password.to_string();
        let hash = blocking(move || hash_password(&password)).await??;
        self.store
            .write_for(tenant.get(), move |c| {
                c.write_tx(|c| {
                    let agent = sql::console::agent_by_email(c, tenant.get(), &email)?
                        .ok_or(StorageError::NotFound)?;
                    sql::console::set_password_hash(c, tenant.get(), agent.id.get(), &hash)?;
                    sql::console::delete_agent_sessions(c, agent.id.get(), None)?;
                    Ok(agent)
                })
            })
            .await
    }

    /// Checks an email and password. With `tenant`, only that tenant's
    /// agent is considered. Every attempt verifies at least one Argon2
    /// hash, so a refusal takes as long for an unknown email.
    pub async fn sign_in(
        self,
        email: &str,
        password: &str,
        tenant: Option<TenantId>,
    ) -> Result<SignIn, StorageError> {
        let email = normalize_email(email);
        let limit = i64::try_from(MAX_SIGN_IN_CANDIDATES).unwrap_or(8);
        let candidates = if email.is_empty() || password.len() > MAX_PASSWORD_BYTES {
            Vec::new()
        } else {
            self.store
                .run(move |c| sql::console::agents_with_email(c, &email, limit))
                .await?
        };
        let candidates: Vec<(Agent, String)> = candidates
            .into_iter()
            .filter(|(a, _)| tenant.is_none_or(|t| a.tenant_id == t))
            .collect();
        let password = password.to_string();
        let matched = blocking(move || {
            if candidates.is_empty() {
                let _ = verify_password(&password, decoy_hash());
                return Vec::new();
            }
            candidates
                .into_iter()
                .filter(|(_, hash)| verify_password(&password, hash))
                .map(|(agent, _)| agent)
                .collect::<Vec<_>>()
        })
        .await?;
        Ok(match <[Agent; 1]>::try_from(matched) {
            Ok([agent]) => SignIn::Agent(agent),
            Err(v) if v.is_empty() => SignIn::Refused,
            Err(_) => SignIn::Ambiguous,
        })
    }

    /// Starts a session for `agent` (and drops the agent's sessions that
    /// have ended meanwhile).
    pub async fn create_session(
        self,
        agent: &Agent,
        policy: SessionPolicy,
    ) -> Result<NewSession, StorageError> {
        let tenant = self
            .store
            .admin()
            .tenant(agent.tenant_id)
            .await?
            .ok_or(StorageError::NotFound)?;
        let mut bytes = [0u8; 48];
        getrandom::fill(&mut bytes).map_err(StorageError::internal)?;
        let token = format!("sbs_{}", keys::hex(&bytes[..32]));
        let csrf = keys::hex(&bytes[32..]);
        let token_hash = keys::hash(&token);
        let now = self.store.now().as_millis();
        let idle_before = now.saturating_sub(millis(policy.idle));
        let (agent_id, tenant_id) = (agent.id.get(), agent.tenant_id.get());
        let csrf_row = csrf.clone();
        let id = self
            .store
            .write_for(tenant_id, move |c| {
                c.write_tx(|c| {
                    sql::console::delete_agent_sessions(c, agent_id, Some(idle_before))?;
                    sql::console::insert_session(
                        c,
                        tenant_id,
                        agent_id,
                        &token_hash,
                        &csrf_row,
                        now,
                    )
                })
            })
            .await?;
        Ok(NewSession {
            token,
            session: ConsoleSession {
                id,
                tenant,
                agent: agent.clone(),
                csrf,
                created_at: Timestamp::from_millis(now),
            },
        })
    }

    /// The live session of a cookie token, or `None` (unknown, idle too
    /// long, too old: an ended session is deleted). A session seen more
    /// than a minute ago is marked seen now.
    pub async fn session(
        self,
        token: &str,
        policy: SessionPolicy,
    ) -> Result<Option<ConsoleSession>, StorageError> {
        if !token.starts_with("sbs_") || token.len() != 68 {
            return Ok(None);
        }
        let token_hash = keys::hash(token);
        let Some((row, agent)) = self
            .store
            .run(move |c| sql::console::session_by_token_hash(c, &token_hash))
            .await?
        else {
            return Ok(None);
        };
        let agent: Agent = agent.into();
        let now = self.store.now().as_millis();
        let idle = now.saturating_sub(row.last_seen_at);
        let age = now.saturating_sub(row.created_at);
        if idle > millis(policy.idle) || age > millis(policy.max_age) {
            let id = row.id;
            self.store
                .write(move |c| sql::console::delete_session(c, id))
                .await?;
            return Ok(None);
        }
        if idle > 60_000 {
            let id = row.id;
            self.store
                .write(move |c| sql::console::touch_session(c, id, now))
                .await?;
        }
        let Some(tenant) = self.store.admin().tenant(agent.tenant_id).await? else {
            return Ok(None);
        };
        Ok(Some(ConsoleSession {
            id: row.id,
            tenant,
            agent,
            csrf: row.csrf_token,
            created_at: Timestamp::from_millis(row.created_at),
        }))
    }

    /// Ends a session (sign-out).
    pub async fn end_session(self, id: i64) -> Result<(), StorageError> {
        self.store
            .write(move |c| sql::console::delete_session(c, id))
            .await
            .map(drop)
    }

    /// Ends every session of an agent.
    pub async fn end_agent_sessions(self, agent: AgentId) -> Result<usize, StorageError> {
        self.store
            .write(move |c| sql::console::delete_agent_sessions(c, agent.get(), None))
            .await
    }

    /// The tenant's events after event id `after`, oldest first (at most
    /// `limit`, 1-1000): `(event id, entity kind, entity id)`. Event ids
    /// make a natural SSE `Last-Event-ID`.
    pub async fn events_after(
        self,
        tenant: TenantId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, String, i64)>, StorageError> {
        let limit = i64::from(limit.clamp(1, 1000));
        self.store
            .run(move |c| sql::console::events_after(c, tenant.get(), after, limit))
            .await
    }

    /// The newest event id of any tenant (0 when none): where a page that
    /// starts listening now begins.
    pub async fn last_event_id(self) -> Result<i64, StorageError> {
        self.store.run(sql::console::last_event_id).await
    }
}
