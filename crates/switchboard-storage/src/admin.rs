//! A tenant's setup: the [`Admin`] handle.

use std::collections::BTreeSet;

use switchboard_domain::validate::{self, ValidationErrors};
use switchboard_domain::{
    Agent, AgentId, AgentRole, ApiKey, ApiKeyId, AttributeSet, CustomAttribute, Department,
    DepartmentId, DomainError, EntityKind, Scope, Tag, Tenant, TenantId,
};

use crate::changes::{Change, notify};
use crate::history::{self, HistoryEntry};
use crate::rows::json;
use crate::sql::tenants::NewKey;
use crate::sql::{self};
use crate::{StorageError, Store, keys};

/// A newly created API key; `secret` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The stored key (hash only).
    pub key: ApiKey,
    /// The full secret to hand to the user.
    pub secret: String,
}

/// New values for some of an agent's fields; `None` keeps a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentChange {
    /// Display name (not empty).
    pub name: Option<String>,
    /// Login email (stored trimmed and in lower case; unique in the tenant).
    pub email: Option<String>,
    /// `agent` or `admin`.
    pub role: Option<String>,
}

/// Which API key [`Admin::revoke_api_key`] revokes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyMatch<'k> {
    /// The key with this id.
    Id(ApiKeyId),
    /// The key with this id or this 12-character prefix.
    IdOrPrefix(Option<i64>, &'k str),
}

/// Tenants, API keys, agents, departments, custom attributes and tags;
/// from [`Store::admin`].
#[derive(Debug, Clone, Copy)]
pub struct Admin<'a> {
    store: &'a Store,
}

fn invalid(path: &str, code: &'static str, message: &str) -> StorageError {
    DomainError::Validation(ValidationErrors::single(path, code, message)).into()
}

impl<'a> Admin<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Creates a tenant. The name must satisfy [`validate::tenant_name`].
    pub async fn create_tenant(self, name: &str) -> Result<Tenant, StorageError> {
        if !validate::tenant_name(name) {
            return Err(invalid(
                "/name",
                "tenant_name",
                "must be 1-63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
            ));
        }
        let name = name.to_string();
        let now = self.store.now().as_millis();
        self.store
            .write(move |c| sql::tenants::insert_tenant(c, &name, now))
            .await
    }

    /// Finds a tenant by name.
    pub async fn tenant_by_name(self, name: &str) -> Result<Option<Tenant>, StorageError> {
        let name = name.to_string();
        self.store
            .run(move |c| sql::tenants::tenant_by_name(c, &name))
            .await
    }

    /// Whether the database holds any tenant (an empty one cannot
    /// authenticate any request).
    pub async fn has_tenants(self) -> Result<bool, StorageError> {
        self.store.run(sql::tenants::any_tenant).await
    }

    /// Finds a tenant by id.
    pub async fn tenant(self, id: TenantId) -> Result<Option<Tenant>, StorageError> {
        self.store
            .run(move |c| sql::tenants::tenant_by_id(c, id.get()))
            .await
    }

    /// Creates an API key for `tenant`. An empty `scopes` set means
    /// [`Scope::DEFAULT`]: every scope of the data APIs, not the admin
    /// scopes (those are granted only by name).
    pub async fn create_api_key(
        self,
        tenant: TenantId,
        name: &str,
        scopes: BTreeSet<Scope>,
    ) -> Result<CreatedKey, StorageError> {
        let scopes = if scopes.is_empty() {
            Scope::DEFAULT.into_iter().collect()
        } else {
            scopes
        };
        let generated = keys::generate().map_err(StorageError::internal)?;
        let name = name.to_string();
        let scopes = json(&scopes)?;
        let secret = generated.secret.clone();
        let now = self.store.now().as_millis();
        let key = self
            .store
            .write_for(tenant.get(), move |c| {
                sql::tenants::insert_api_key(
                    c,
                    &NewKey {
                        tenant: tenant.get(),
                        name: &name,
                        prefix: &generated.prefix,
                        hash: &generated.hash,
                        scopes: &scopes,
                        now,
                    },
                )
            })
            .await?;
        Ok(CreatedKey { key, secret })
    }

    /// Deletes the tenant named `name` with everything it owns (its keys,
    /// customers, conversations, webhook subscriptions and their deliveries,
    /// outbox and history rows); returns it, or [`StorageError::NotFound`].
    ///
    /// Every running server that listens for changes ([`Store::listen`])
    /// forgets the tenant's keys within a second of the commit. One that
    /// missed the notification and verified one of them less than its
    /// key-cache time ago (`api.key_cache_secs`) still accepts the key until
    /// then: its reads find nothing, and its writes fail with
    /// [`StorageError::TenantGone`].
    pub async fn delete_tenant(self, name: &str) -> Result<Tenant, StorageError> {
        let name = name.to_string();
        self.store
            .write(move |c| {
                c.write_tx(|c| {
                    let tenant =
                        sql::tenants::tenant_by_name(c, &name)?.ok_or(StorageError::NotFound)?;
                    sql::tenants::delete_tenant(c, tenant.id.get())?;
                    notify(c, Change::TenantRemoved { tenant: tenant.id })?;
                    Ok(tenant)
                })
            })
            .await
            .inspect(|tenant| {
                self.store
                    .publish(Change::TenantRemoved { tenant: tenant.id });
            })
    }

    /// The tenant's API keys (hashes only), in id order.
    pub async fn api_keys(self, tenant: TenantId) -> Result<Vec<ApiKey>, StorageError> {
        self.store
            .run(move |c| sql::tenants::api_keys(c, tenant.get()))
            .await
    }

    /// Revokes (deletes) one of the tenant's API keys, named by its id or
    /// its prefix (`0123456789ab`, or the start of the secret
    /// `sbk_0123456789ab`); returns it, or [`StorageError::NotFound`].
    ///
    /// Every running server that listens for changes ([`Store::listen`])
    /// forgets the key within a second of the commit; one that missed the
    /// notification still accepts it until its key-cache time
    /// (`api.key_cache_secs`) runs out.
    pub async fn revoke_api_key(self, tenant: TenantId, key: &str) -> Result<ApiKey, StorageError> {
        let key = key.trim();
        let id = key.parse::<i64>().ok();
        let prefix = key
            .strip_prefix("sbk_")
            .unwrap_or(key)
            .split('_')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        self.revoke(tenant, KeyMatch::IdOrPrefix(id, &prefix)).await
    }

    /// Revokes (deletes) the tenant's API key with id `id`; returns it, or
    /// [`StorageError::NotFound`] (also for another tenant's key). See
    /// [`Admin::revoke_api_key`].
    pub async fn revoke_api_key_id(
        self,
        tenant: TenantId,
        id: ApiKeyId,
    ) -> Result<ApiKey, StorageError> {
        self.revoke(tenant, KeyMatch::Id(id)).await
    }

    async fn revoke(self, tenant: TenantId, which: KeyMatch<'_>) -> Result<ApiKey, StorageError> {
        let (id, prefix) = match which {
            KeyMatch::Id(id) => (Some(id.get()), String::new()),
            KeyMatch::IdOrPrefix(id, prefix) => (id, prefix.to_string()),
        };
        self.store
            .write(move |c| {
                c.write_tx(|c| {
                    let found = sql::tenants::api_keys(c, tenant.get())?
                        .into_iter()
                        .find(|k| {
                            Some(k.id.get()) == id || (prefix.len() == 12 && k.prefix == prefix)
                        })
                        .ok_or(StorageError::NotFound)?;
                    sql::tenants::delete_api_key(c, tenant.get(), found.id.get())?;
                    notify(
                        c,
                        Change::KeyRevoked {
                            tenant,
                            key: found.id,
                        },
                    )?;
                    Ok(found)
                })
            })
            .await
            .inspect(|key| {
                self.store.publish(Change::KeyRevoked {
                    tenant,
                    key: key.id,
                });
            })
    }

    /// Looks up a presented key and verifies it in constant time. Returns the
    /// key and its tenant, or `None` for any unknown, malformed or wrong key.
    pub async fn authenticate(
        self,
        presented: &str,
    ) -> Result<Option<(ApiKey, Tenant)>, StorageError> {
        let Some(prefix) = keys::prefix_of(presented).map(str::to_string) else {
            return Ok(None);
        };
        let presented = presented.to_string();
        self.store
            .run(move |c| {
                let Some(key) = sql::tenants::api_key_by_prefix(c, &prefix)? else {
                    return Ok(None);
                };
                if !keys::verify(&presented, &key.secret_hash) {
                    return Ok(None);
                }
                let tenant = sql::tenants::tenant_by_id(c, key.tenant_id.get())?
                    .ok_or(StorageError::NotFound)?;
                Ok(Some((key, tenant)))
            })
            .await
    }

    /// Creates an agent.
    pub async fn create_agent(
        self,
        tenant: TenantId,
        name: &str,
        email: &str,
        role: &str,
    ) -> Result<Agent, StorageError> {
        let mut errors = ValidationErrors::new();
        if !validate::email(email) {
            errors.push("/email", "email", "must be a valid email address");
        }
        if name.trim().is_empty() {
            errors.push("/name", "required", "must not be empty");
        }
        validate::no_nul(
            &mut errors,
            &serde_json::json!({"name": name, "role": role}),
        );
        errors.into_result().map_err(DomainError::Validation)?;
        let (name, email, role) = (name.to_string(), email.to_string(), role.to_string());
        self.store
            .write_for(tenant.get(), move |c| {
                sql::directory::insert_agent(c, tenant.get(), &name, &email, &role)
            })
            .await
    }

    /// The tenant's agents, in id order.
    pub async fn agents(self, tenant: TenantId) -> Result<Vec<Agent>, StorageError> {
        self.store
            .run(move |c| sql::directory::agents(c, tenant.get(), None))
            .await
    }

    /// One agent of the tenant.
    pub async fn agent(self, tenant: TenantId, id: AgentId) -> Result<Agent, StorageError> {
        self.store
            .run(move |c| sql::directory::agent_by_id(c, tenant.get(), id.get()))
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// Creates a department.
    pub async fn create_department(
        self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Department, StorageError> {
        if name.trim().is_empty() || name.contains('\0') {
            return Err(invalid("/name", "required", "must not be empty"));
        }
        let name = name.to_string();
        self.store
            .write_for(tenant.get(), move |c| {
                sql::directory::insert_department(c, tenant.get(), &name)
            })
            .await
    }

    /// The tenant's departments, in id order.
    pub async fn departments(self, tenant: TenantId) -> Result<Vec<Department>, StorageError> {
        self.store
            .run(move |c| sql::directory::departments(c, tenant.get(), None))
            .await
    }

    /// One department of the tenant.
    pub async fn department(
        self,
        tenant: TenantId,
        id: DepartmentId,
    ) -> Result<Department, StorageError> {
        self.store
            .run(move |c| sql::directory::department_by_id(c, tenant.get(), id.get()))
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// Defines a custom attribute. The next customer write or search of
    /// the tenant on this node knows it; other nodes on PostgreSQL learn of
    /// it by `NOTIFY` ([`Change::AttributesChanged`]), other processes on
    /// SQLite by the tenant's stamp (see [`Customers::attributes`]).
    ///
    /// [`Customers::attributes`]: crate::Customers::attributes
    pub async fn create_attribute(self, attribute: CustomAttribute) -> Result<(), StorageError> {
        if attribute.name.trim().is_empty() || attribute.name.chars().count() > 100 {
            return Err(invalid("/name", "length", "must be 1-100 characters"));
        }
        let tenant = attribute.tenant_id;
        self.store
            .write_for(tenant.get(), move |c| {
                c.write_tx(|c| {
                    sql::directory::insert_attribute(c, &attribute)?;
                    notify(c, Change::AttributesChanged { tenant })
                })
            })
            .await?;
        self.store.publish(Change::AttributesChanged { tenant });
        Ok(())
    }

    /// The tenant's custom attribute definitions, by name, read from the
    /// database (the customer rules and searches read them through the
    /// store's cache: [`Customers::attributes`](crate::Customers::attributes)).
    pub async fn attributes(self, tenant: TenantId) -> Result<AttributeSet, StorageError> {
        self.store
            .run(move |c| sql::directory::attributes(c, tenant.get()))
            .await
    }

    /// The tenant's tag list (every tag ever used, with its first color).
    pub async fn tags(self, tenant: TenantId) -> Result<Vec<Tag>, StorageError> {
        self.store
            .run(move |c| sql::directory::list_tags(c, tenant.get()))
            .await
    }

    /// Changes an agent's name, email or role (see [`AgentChange`]);
    /// returns the agent as it is now, or [`StorageError::NotFound`].
    /// An email another agent of the tenant has is a
    /// [`StorageError::Conflict`]. The console password is not changed
    /// here (see [`Console::set_password`](crate::Console::set_password)).
    pub async fn update_agent(
        self,
        tenant: TenantId,
        id: AgentId,
        change: AgentChange,
    ) -> Result<Agent, StorageError> {
        let AgentChange { name, email, role } = change;
        let email = email.map(|e| crate::console::normalize_email(&e));
        let mut errors = ValidationErrors::new();
        if let Some(name) = &name
            && (name.trim().is_empty() || name.chars().count() > 200)
        {
            errors.push("/name", "length", "must be 1-200 characters");
        }
        if let Some(email) = &email
            && !validate::email(email)
        {
            errors.push("/email", "email", "must be a valid email address");
        }
        if let Some(role) = &role
            && AgentRole::parse(role).is_none()
        {
            errors.push("/role", "role", "must be agent or admin");
        }
        validate::no_nul(&mut errors, &serde_json::json!({"name": name}));
        errors.into_result().map_err(DomainError::Validation)?;
        self.store
            .write_for(tenant.get(), move |c| {
                c.write_tx(|c| {
                    let agent = sql::directory::agent_by_id(c, tenant.get(), id.get())?
                        .ok_or(StorageError::NotFound)?;
                    let name = name.unwrap_or(agent.name);
                    let email = email.unwrap_or(agent.email);
                    let role = role.unwrap_or(agent.role);
                    sql::directory::update_agent(c, tenant.get(), id.get(), &name, &email, &role)?
                        .ok_or(StorageError::NotFound)
                })
            })
            .await
    }

    /// Deletes an agent, with its console sessions; returns it, or
    /// [`StorageError::NotFound`]. An agent that any of the tenant's
    /// conversations is assigned or being transferred to is not deleted:
    /// [`StorageError::Conflict`] says how many, so that they can be
    /// reassigned first and no open work points at a missing agent. Being
    /// a past participant does not count: conversations keep the id in
    /// their participants (the dialects list only agents that exist), as
    /// the change history keeps it as the actor of what they did.
    pub async fn delete_agent(self, tenant: TenantId, id: AgentId) -> Result<Agent, StorageError> {
        self.store
            .write(move |c| {
                c.write_tx(|c| {
                    let agent = sql::directory::agent_by_id(c, tenant.get(), id.get())?
                        .ok_or(StorageError::NotFound)?;
                    // Delete first: on PostgreSQL its row lock waits for
                    // conversation writes that link the agent (they lock
                    // it `FOR KEY SHARE`), so the count below sees them;
                    // later ones wait for this commit and find no agent.
                    // SQLite has one writer.
                    sql::directory::delete_agent(c, tenant.get(), id.get())?;
                    let naming =
                        sql::directory::conversations_assigned_to(c, tenant.get(), id.get())?;
                    if naming > 0 {
                        return Err(StorageError::Conflict(format!(
                            "agent {id} is the assignee (or transfer target) of {naming} \
                             conversation(s); reassign them first"
                        )));
                    }
                    Ok(agent)
                })
            })
            .await
    }

    /// Deletes a department; returns it, or [`StorageError::NotFound`]. A
    /// department that any of the tenant's conversations is routed to is
    /// not deleted ([`StorageError::Conflict`], with how many).
    pub async fn delete_department(
        self,
        tenant: TenantId,
        id: DepartmentId,
    ) -> Result<Department, StorageError> {
        self.store
            .write(move |c| {
                c.write_tx(|c| {
                    let department = sql::directory::department_by_id(c, tenant.get(), id.get())?
                        .ok_or(StorageError::NotFound)?;
                    // Delete first, as `delete_agent` does.
                    sql::directory::delete_department(c, tenant.get(), id.get())?;
                    let naming =
                        sql::directory::conversations_naming_department(c, tenant.get(), id.get())?;
                    if naming > 0 {
                        return Err(StorageError::Conflict(format!(
                            "department {id} has {naming} conversation(s); move them to \
                             another department first"
                        )));
                    }
                    Ok(department)
                })
            })
            .await
    }

    /// Deletes a custom attribute definition; returns it, or
    /// [`StorageError::NotFound`]. While any of the tenant's customers
    /// holds a value for it, it is not deleted ([`StorageError::Conflict`],
    /// with how many): a customer's `customData` may only hold defined
    /// attributes, so such a customer could not be changed any more. Clear
    /// the values first (e.g. a PATCH with `null`). A customer write that
    /// read the definitions just before the delete may still store a value
    /// for it (the definitions are not locked by every customer write), and
    /// so may one on another PostgreSQL node before it hears of the delete
    /// (by `NOTIFY`, within a poll of its listener; at worst, a missed
    /// notification, the attribute cache's `ATTRIBUTE_CACHE_TTL`);
    /// defining the attribute again makes such a customer writable again.
    pub async fn delete_attribute(
        self,
        tenant: TenantId,
        name: &str,
    ) -> Result<CustomAttribute, StorageError> {
        let name = name.to_string();
        self.store
            .write(move |c| {
                c.write_tx(|c| {
                    let attribute = sql::directory::attributes(c, tenant.get())?
                        .remove(&name)
                        .ok_or(StorageError::NotFound)?;
                    if !sql::directory::delete_attribute(c, tenant.get(), &name)? {
                        return Err(StorageError::NotFound);
                    }
                    let holding = sql::directory::customers_with_attribute(c, tenant.get(), &name)?;
                    if holding > 0 {
                        return Err(StorageError::Conflict(format!(
                            "{holding} customer(s) have a value for attribute {name:?}; \
                             clear those values first"
                        )));
                    }
                    notify(c, Change::AttributesChanged { tenant })?;
                    Ok(attribute)
                })
            })
            .await
            .inspect(|_| self.store.publish(Change::AttributesChanged { tenant }))
    }

    /// A page of the change history of the tenant's customer or
    /// conversation `id`, newest first: at most `limit` (1-1000) entries
    /// with an id below `before` (the last id of the previous page), or
    /// from the newest without it. The history outlives a deleted entity
    /// (until retention removes it). [`StorageError::NotFound`] when the
    /// first page is empty and the entity does not exist (another
    /// tenant's id included).
    pub async fn history(
        self,
        tenant: TenantId,
        kind: EntityKind,
        id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StorageError> {
        let page = history::page(self.store, tenant, kind, id, before, limit).await?;
        if page.is_empty() && before.is_none() {
            let exists = self
                .store
                .run(move |c| match kind {
                    EntityKind::Customer => {
                        sql::customers::load(c, tenant.get(), id, false).map(|e| e.is_some())
                    }
                    EntityKind::Conversation => {
                        sql::conversations::load(c, tenant.get(), id, false).map(|e| e.is_some())
                    }
                })
                .await?;
            if !exists {
                return Err(StorageError::NotFound);
            }
        }
        Ok(page)
    }
}
