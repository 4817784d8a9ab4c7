//! A tenant's setup: the [`Admin`] handle.

use std::collections::BTreeSet;

use switchboard_domain::validate::{self, ValidationErrors};
use switchboard_domain::{
    Agent, AgentId, ApiKey, AttributeSet, CustomAttribute, Department, DepartmentId, DomainError,
    Scope, Tag, Tenant, TenantId,
};

use crate::changes::{Change, notify};
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

    /// Creates an API key for `tenant`. An empty `scopes` set means every scope.
    pub async fn create_api_key(
        self,
        tenant: TenantId,
        name: &str,
        scopes: BTreeSet<Scope>,
    ) -> Result<CreatedKey, StorageError> {
        let scopes = if scopes.is_empty() {
            Scope::ALL.into_iter().collect()
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
            .run(move |c| sql::directory::list_agents(c, tenant.get()))
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
            .run(move |c| sql::directory::list_departments(c, tenant.get()))
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

    /// Defines a custom attribute.
    pub async fn create_attribute(self, attribute: CustomAttribute) -> Result<(), StorageError> {
        if attribute.name.trim().is_empty() || attribute.name.chars().count() > 100 {
            return Err(invalid("/name", "length", "must be 1-100 characters"));
        }
        self.store
            .write_for(attribute.tenant_id.get(), move |c| {
                sql::directory::insert_attribute(c, &attribute)
            })
            .await
    }

    /// The tenant's custom attribute definitions, by name.
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
}
