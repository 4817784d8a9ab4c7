//! Webhook signing secrets at rest: encrypted under the configured keys,
//! plaintext ones from before encryption encrypted on start, keys rotated,
//! a wrong key refused at start, and the default key file.

use std::time::Duration;

use switchboard_domain::{EventType, Tenant, WebhookSubscription};
use switchboard_storage::{
    SecretKeyError, SecretKeySource, SecretKeys, StorageError, Store, StoreConfig, secrets,
};
use switchboard_testsupport::{RawConnection, TestDb};

const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
/// The id k1 with k2's bytes: the wrong key under the right name.
const K1_WRONG: &str = "k1:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

fn with_keys(keys: &str) -> StoreConfig {
    StoreConfig {
        secret_keys: SecretKeySource::keys(keys).unwrap(),
        ..StoreConfig::default()
    }
}

async fn databases() -> Vec<TestDb> {
    tokio::task::spawn_blocking(TestDb::all).await.unwrap()
}

/// Every stored secret value, current and previous, in id order.
fn stored(raw: &mut RawConnection) -> Vec<String> {
    let sql = "SELECT secret || ' ' || COALESCE(previous_secret, '-') AS line \
               FROM webhook_subscriptions ORDER BY id";
    raw.lines(sql, sql)
}

/// Every text of the subscriptions table, in one string.
fn whole_table(raw: &mut RawConnection) -> String {
    let sql = "SELECT target_url || event || secret || COALESCE(previous_secret, '') || state \
               AS line FROM webhook_subscriptions";
    raw.lines(sql, sql).join("\n")
}

/// The secret of subscription `sub` as the store reads it back.
async fn secret_of(store: &Store, tenant: &Tenant, sub: &WebhookSubscription) -> String {
    store
        .webhooks()
        .get(tenant.id, sub.id)
        .await
        .unwrap()
        .secret
}

async fn subscribe(store: &Store, tenant: &Tenant, secret: &str) -> WebhookSubscription {
    store
        .webhooks()
        .create(WebhookSubscription::new(
            tenant.id,
            "https://hooks.example.com/x",
            EventType::EmailUpdated,
            secret,
            store.now(),
        ))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_database_holds_no_plaintext_secret() {
    for db in databases().await {
        let store = Store::open(&db.url, with_keys(K1)).await.unwrap();
        let tenant = store.admin().create_tenant("acme").await.unwrap();
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let created = subscribe(&store, &tenant, secret).await;
        assert_eq!(created.secret, secret, "{}", db.label);
        let rotated = store
            .webhooks()
            .rotate_secret(
                tenant.id,
                created.id,
                "whsec_c2Vjb25kIHNlY3JldCBmb3IgdGVzdHM=",
                Duration::from_secs(3600),
            )
            .await
            .unwrap();
        assert_eq!(rotated.secret, "whsec_c2Vjb25kIHNlY3JldCBmb3IgdGVzdHM=");
        assert_eq!(rotated.previous_secret.as_deref(), Some(secret));

        let mut raw = db.raw();
        let table = whole_table(&mut raw);
        assert!(!table.contains("whsec_"), "{}: {table}", db.label);
        let values = stored(&mut raw);
        assert!(
            values[0].starts_with("enc:v1:k1:") && values[0].contains(" enc:v1:k1:"),
            "{}: {values:?}",
            db.label
        );
        // Every reader sees the secrets themselves.
        let got = store.webhooks().get(tenant.id, created.id).await.unwrap();
        assert_eq!(got.secret, rotated.secret);
        assert_eq!(got.previous_secret.as_deref(), Some(secret));
        let listed = store.webhooks().list(tenant.id).await.unwrap();
        assert_eq!(listed[0].secret, rotated.secret);
    }
}

#[tokio::test]
async fn plaintext_secrets_are_encrypted_on_start_once() {
    for db in databases().await {
        let store = Store::open(&db.url, with_keys(K1)).await.unwrap();
        let tenant = store.admin().create_tenant("acme").await.unwrap();
        drop(store);
        // Rows written before encryption existed.
        let mut raw = db.raw();
        raw.execute(&format!(
            "INSERT INTO webhook_subscriptions \
             (tenant_id, target_url, event, secret, previous_secret, previous_secret_expires_at, state, created_at) \
             VALUES ({t}, 'https://hooks.example.com/a', 'email_updated', 'whsec_b2xkIHNlY3JldA==', NULL, NULL, 'active', 0), \
                    ({t}, 'https://hooks.example.com/b', 'email_updated', 'whsec_bmV3', 'whsec_b2xk', 9999999999999, 'active', 0)",
            t = tenant.id.get()
        ));

        let store = Store::open(&db.url, with_keys(K1)).await.unwrap();
        let after_first = stored(&mut raw);
        assert!(
            !whole_table(&mut raw).contains("whsec_"),
            "{}: {after_first:?}",
            db.label
        );
        let subs = store.webhooks().list(tenant.id).await.unwrap();
        assert_eq!(subs[0].secret, "whsec_b2xkIHNlY3JldA==");
        assert_eq!(subs[1].secret, "whsec_bmV3");
        assert_eq!(subs[1].previous_secret.as_deref(), Some("whsec_b2xk"));
        drop(store);

        // Idempotent: a second start rewrites nothing.
        let _store = Store::open(&db.url, with_keys(K1)).await.unwrap();
        assert_eq!(stored(&mut raw), after_first, "{}", db.label);
    }
}

#[tokio::test]
async fn keys_rotate_and_a_wrong_key_fails_at_start() {
    for db in databases().await {
        let store = Store::open(&db.url, with_keys(K1)).await.unwrap();
        let tenant = store.admin().create_tenant("acme").await.unwrap();
        let sub = subscribe(&store, &tenant, "whsec_cm90YXRlIG1l").await;
        drop(store);

        // The wrong key under the right id: the start fails and says so.
        let error = Store::open(&db.url, with_keys(K1_WRONG)).await.unwrap_err();
        assert!(
            matches!(error, StorageError::SecretKeys(SecretKeyError::WrongKey { subscription, .. }) if subscription == sub.id.get()),
            "{}: {error:?}",
            db.label
        );
        let message = error.to_string();
        assert!(
            message.contains("\"k1\"") && message.contains("wrong"),
            "{message}"
        );

        // Rotation: k2 first, k1 kept to decrypt; the start moves every
        // value to k2.
        let store = Store::open(&db.url, with_keys(&format!("{K2},{K1}")))
            .await
            .unwrap();
        let mut raw = db.raw();
        assert!(
            stored(&mut raw)[0].starts_with("enc:v1:k2:"),
            "{}",
            db.label
        );
        assert_eq!(secret_of(&store, &tenant, &sub).await, "whsec_cm90YXRlIG1l");
        drop(store);
        // Now k1 can go; without k2 the start fails naming it.
        Store::open(&db.url, with_keys(K2)).await.unwrap();
        let error = Store::open(&db.url, with_keys(K1)).await.unwrap_err();
        assert!(
            matches!(&error, StorageError::SecretKeys(SecretKeyError::UnknownKey { key_id, .. }) if key_id == "k2"),
            "{}: {error:?}",
            db.label
        );
    }
}

#[tokio::test]
async fn postgres_needs_configured_keys() {
    let Some(db) = tokio::task::spawn_blocking(TestDb::postgres).await.unwrap() else {
        return;
    };
    let error = Store::open(&db.url, StoreConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, StorageError::SecretKeys(SecretKeyError::Missing)),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("SWITCHBOARD_SECRETS_KEYS"),
        "{error}"
    );
}

#[tokio::test]
async fn sqlite_default_key_file_is_created_private() {
    let db = TestDb::sqlite();
    let path = db.url.strip_prefix("sqlite://").unwrap().to_string();
    let key_file = secrets::default_key_file(std::path::Path::new(&path));
    assert!(key_file.to_string_lossy().ends_with("switchboard.db.keys"));
    assert!(!key_file.exists());

    let store = Store::open(&db.url, StoreConfig::default()).await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let tenant = store.admin().create_tenant("acme").await.unwrap();
    let sub = subscribe(&store, &tenant, "whsec_a2V5IGZpbGU=").await;
    let text = std::fs::read_to_string(&key_file).unwrap();
    let keys = SecretKeys::parse(&text).unwrap();
    let id = keys.primary().id().to_string();
    assert!(stored(&mut db.raw())[0].starts_with(&format!("enc:v1:{id}:")));
    drop(store);

    // The file is reused on the next start.
    let store = Store::open(&db.url, StoreConfig::default()).await.unwrap();
    assert_eq!(secret_of(&store, &tenant, &sub).await, "whsec_a2V5IGZpbGU=");
    drop(store);
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), text);

    // A lost key file: a new key is made, and the start fails clearly
    // instead of signing with secrets it cannot read.
    std::fs::remove_file(&key_file).unwrap();
    let error = Store::open(&db.url, StoreConfig::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StorageError::SecretKeys(SecretKeyError::UnknownKey { key_id, .. }) if *key_id == id),
        "{error:?}"
    );
}
