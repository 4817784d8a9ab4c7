//! Webhook subscriptions and their delivery log: the [`Webhooks`] handle.

use std::time::Duration;

use serde_json::Value;
use switchboard_domain::{
    EventId, EventType, SubscriptionId, SubscriptionState, TenantId, WebhookSubscription,
};

use crate::changes::{Change, notify};
use crate::config::millis;
use crate::connection::DbConnection;
use crate::delivery::{Delivery, DeliveryAttempt, DeliveryId, QuarantinedEvent, attempt, delivery};
use crate::rows::SubscriptionRow;
use crate::sql::{self, R};
use crate::{StorageError, Store};

/// A tenant's webhook subscriptions and what was delivered to them; from
/// [`Store::webhooks`].
#[derive(Debug, Clone, Copy)]
pub struct Webhooks<'a> {
    store: &'a Store,
}

/// The tenant's subscription `id`, or [`StorageError::NotFound`].
fn owned(c: &mut DbConnection, tenant: TenantId, id: SubscriptionId) -> R<SubscriptionRow> {
    sql::subscriptions::of_tenant(c, tenant.get(), id.get())?.ok_or(StorageError::NotFound)
}

impl<'a> Webhooks<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Stores a subscription (its id is assigned here). Its secrets are
    /// stored encrypted; the returned subscription carries them in clear.
    pub async fn create(
        self,
        mut sub: WebhookSubscription,
    ) -> Result<WebhookSubscription, StorageError> {
        let cipher = self.store.cipher();
        let tenant = sub.tenant_id.get();
        let stored = WebhookSubscription {
            secret: cipher.seal(tenant, &sub.secret)?,
            previous_secret: sub
                .previous_secret
                .as_deref()
                .map(|p| cipher.seal(tenant, p))
                .transpose()?,
            ..sub.clone()
        };
        let changed = Change::SubscriptionsChanged {
            tenant: sub.tenant_id,
        };
        let id = self
            .store
            .write_for(tenant, move |c| {
                let id = sql::subscriptions::insert(c, &stored)?;
                notify(c, changed)?;
                Ok::<_, StorageError>(id)
            })
            .await?;
        self.store.publish(changed);
        sub.id = SubscriptionId::new(id);
        Ok(sub)
    }

    /// The tenant's subscriptions, oldest first.
    pub async fn list(self, tenant: TenantId) -> Result<Vec<WebhookSubscription>, StorageError> {
        let mut subs = self
            .store
            .run(move |c| sql::subscriptions::list(c, tenant.get()))
            .await?;
        let cipher = self.store.cipher();
        for sub in &mut subs {
            cipher.reveal(sub)?;
        }
        Ok(subs)
    }

    /// One subscription of the tenant.
    pub async fn get(
        self,
        tenant: TenantId,
        id: SubscriptionId,
    ) -> Result<WebhookSubscription, StorageError> {
        let mut sub: WebhookSubscription = self
            .store
            .run(move |c| owned(c, tenant, id)?.try_into())
            .await?;
        self.store.cipher().reveal(&mut sub)?;
        Ok(sub)
    }

    /// Deletes a subscription; its pending deliveries go with it.
    pub async fn delete(self, tenant: TenantId, id: SubscriptionId) -> Result<(), StorageError> {
        let changed = Change::SubscriptionsChanged { tenant };
        let n = self
            .store
            .write(move |c| {
                let n = sql::subscriptions::delete_of_tenant(c, tenant.get(), id.get())?;
                if n > 0 {
                    notify(c, changed)?;
                }
                Ok::<_, StorageError>(n)
            })
            .await?;
        if n > 0 {
            self.store.publish(changed);
        }
        if n == 0 {
            Err(StorageError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Makes a disabled subscription active again (an active one stays
    /// active): its failing period is forgotten and new events are
    /// delivered to it again. Deliveries cancelled when it was disabled
    /// stay cancelled; [`Self::redeliver`] sends one again. Another
    /// tenant's subscription is [`StorageError::NotFound`].
    pub async fn enable(
        self,
        tenant: TenantId,
        id: SubscriptionId,
    ) -> Result<WebhookSubscription, StorageError> {
        let changed = Change::SubscriptionsChanged { tenant };
        let mut sub: WebhookSubscription = self
            .store
            .write(move |c| {
                c.write_tx(|c| {
                    if sql::subscriptions::enable(c, tenant.get(), id.get())? == 0 {
                        return Err(StorageError::NotFound);
                    }
                    notify(c, changed)?;
                    owned(c, tenant, id)?.try_into()
                })
            })
            .await?;
        self.store.publish(changed);
        self.store.cipher().reveal(&mut sub)?;
        Ok(sub)
    }

    /// Rotates a subscription's signing secret: `secret` becomes current and
    /// the old one stays valid (deliveries carry both signatures) for `grace`.
    pub async fn rotate_secret(
        self,
        tenant: TenantId,
        id: SubscriptionId,
        secret: &str,
        grace: Duration,
    ) -> Result<WebhookSubscription, StorageError> {
        let secret = self.store.cipher().seal(tenant.get(), secret)?;
        let expires = self.store.now().as_millis().saturating_add(millis(grace));
        let mut sub: WebhookSubscription = self
            .store
            .write(move |c| {
                c.write_tx(|c| {
                    let sub = owned(c, tenant, id)?;
                    sql::subscriptions::rotate_secret(
                        c,
                        tenant.get(),
                        id.get(),
                        &secret,
                        &sub.secret,
                        expires,
                    )?;
                    notify(c, Change::SubscriptionsChanged { tenant })?;
                    owned(c, tenant, id)?.try_into()
                })
            })
            .await?;
        self.store.publish(Change::SubscriptionsChanged { tenant });
        self.store.cipher().reveal(&mut sub)?;
        Ok(sub)
    }

    /// A page of a subscription's attempts, newest first: those with an id
    /// below `before` (all when `None`), at most `limit` (1-1000).
    pub async fn attempts(
        self,
        tenant: TenantId,
        subscription: SubscriptionId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryAttempt>, StorageError> {
        let limit = i64::from(limit.clamp(1, 1000));
        self.store
            .run(move |c| {
                sql::deliveries::attempts_page(c, tenant.get(), subscription.get(), before, limit)
            })
            .await
            .map(|rows| rows.into_iter().map(attempt).collect())
    }

    /// A subscription's deliveries, newest first (at most `limit`, 1-1000).
    pub async fn deliveries(
        self,
        tenant: TenantId,
        subscription: SubscriptionId,
        limit: u32,
    ) -> Result<Vec<Delivery>, StorageError> {
        let limit = i64::from(limit.clamp(1, 1000));
        self.store
            .run(move |c| sql::deliveries::list(c, tenant.get(), subscription.get(), limit))
            .await?
            .into_iter()
            .map(|(d, e)| delivery(d, e))
            .collect()
    }

    /// One delivery of the tenant's subscription.
    pub async fn delivery(
        self,
        tenant: TenantId,
        subscription: SubscriptionId,
        id: DeliveryId,
    ) -> Result<Delivery, StorageError> {
        let (d, e) = self
            .store
            .run(move |c| {
                sql::deliveries::of_subscription(c, tenant.get(), subscription.get(), id.get())
            })
            .await?
            .ok_or(StorageError::NotFound)?;
        delivery(d, e)
    }

    /// Makes a delivery due again now, whatever its state: one more
    /// attempt with the same `webhook-id`. If it still had retries left,
    /// its schedule continues after that attempt. A disabled subscription's
    /// deliveries cannot be redelivered ([`StorageError::Conflict`]).
    pub async fn redeliver(
        self,
        tenant: TenantId,
        subscription: SubscriptionId,
        id: DeliveryId,
    ) -> Result<Delivery, StorageError> {
        let clock = self.store.clock().clone();
        self.store
            .write(move |c| {
                c.write_tx(|c| {
                    let sub = owned(c, tenant, subscription)?;
                    if sub.state != SubscriptionState::Active.as_str() {
                        return Err(StorageError::Conflict(
                            "the subscription is disabled".into(),
                        ));
                    }
                    let of_sub = |c: &mut DbConnection| {
                        sql::deliveries::of_subscription(
                            c,
                            tenant.get(),
                            subscription.get(),
                            id.get(),
                        )
                    };
                    if of_sub(c)?.is_none() {
                        return Err(StorageError::NotFound);
                    }
                    sql::deliveries::make_due(c, id.get(), clock.now().as_millis())?;
                    let (d, e) = of_sub(c)?.ok_or(StorageError::NotFound)?;
                    delivery(d, e)
                })
            })
            .await
    }

    /// Cancels the pending deliveries of one of the tenant's subscriptions;
    /// returns how many.
    pub async fn cancel_deliveries(
        self,
        tenant: TenantId,
        subscription: SubscriptionId,
    ) -> Result<usize, StorageError> {
        let clock = self.store.clock().clone();
        self.store
            .write(move |c| {
                c.write_tx(|c| {
                    owned(c, tenant, subscription)?;
                    sql::deliveries::cancel_pending(c, subscription.get(), clock.now().as_millis())
                })
            })
            .await
    }

    /// The payloads of the tenant's most recent events of one type, newest
    /// first (at most `limit`, 1-100), exactly as they are delivered.
    /// Quarantined events, and any payload that cannot be read back (it is
    /// logged), are left out. Each payload carries `id`, its event's id, as every delivery of
    /// the event does ([`switchboard_domain::event::with_event_id`]).
    pub async fn recent_payloads(
        self,
        tenant: TenantId,
        event: EventType,
        limit: u32,
    ) -> Result<Vec<Value>, StorageError> {
        let limit = i64::from(limit.clamp(1, 100));
        let rows = self
            .store
            .run(move |c| sql::outbox::recent_payloads(c, tenant.get(), event.as_str(), limit))
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, text)| match serde_json::from_str(&text.0) {
                Ok(v) => Some(switchboard_domain::event::with_event_id(v, id)),
                Err(e) => {
                    tracing::warn!(event = id, error = %e, "an outbox payload cannot be read back; left out of the samples");
                    None
                }
            })
            .collect())
    }

    /// Up to `limit` (1-1,000) of the tenant's quarantined outbox events,
    /// oldest first: the events fan-out gave up on, with the last error
    /// (what `store.worker().quarantined` lists for every tenant).
    pub async fn quarantined(
        self,
        tenant: TenantId,
        limit: u32,
    ) -> Result<Vec<QuarantinedEvent>, StorageError> {
        let limit = i64::from(limit.clamp(1, 1000));
        let rows = self
            .store
            .run(move |c| sql::outbox::quarantined_of_tenant(c, tenant.get(), limit))
            .await?;
        Ok(rows.into_iter().map(QuarantinedEvent::from).collect())
    }

    /// Puts one of the tenant's quarantined events back in line (due now,
    /// with fresh tries). [`StorageError::NotFound`] when the tenant has no
    /// such quarantined event (another tenant's is not touched).
    pub async fn requeue(self, tenant: TenantId, event: EventId) -> Result<(), StorageError> {
        let clock = self.store.clock().clone();
        let requeued = self
            .store
            .write(move |c| {
                sql::outbox::requeue(c, Some(tenant.get()), event.get(), clock.now().as_millis())
            })
            .await?;
        if requeued {
            Ok(())
        } else {
            Err(StorageError::NotFound)
        }
    }
}
