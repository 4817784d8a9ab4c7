//! Webhook signing secrets at rest: encrypted with XChaCha20-Poly1305 (an
//! AEAD from RustCrypto's `chacha20poly1305`) under the server's keys.
//!
//! A stored secret is the text
//! `enc:v1:<key-id>:<base64url(24-byte nonce ‖ ciphertext ‖ tag)>`, so the
//! key id and the nonce travel in the column itself (no extra columns).
//! The additional data binds a value to its tenant: a ciphertext copied to
//! another tenant's row does not decrypt.
//!
//! Keys come from [`SecretKeySource`] (part of
//! [`StoreConfig`](crate::StoreConfig)): explicit keys (from the
//! configuration or the environment), a key file, or — the default — a key
//! file created with mode `0600` beside the SQLite database on first start
//! (`switchboard.db` → `switchboard.db.keys`). PostgreSQL has no such
//! default: its keys must be configured (every node needs the same keys).
//!
//! Several keys may be configured, each with an id: the **first encrypts,
//! all decrypt**. On start ([`Store::migrate`](crate::Store::migrate)) every
//! stored secret is checked and brought to the first key: plaintext secrets
//! (from before encryption) are encrypted, secrets under an older key are
//! re-encrypted, and a secret that no configured key opens stops the start
//! with an error naming the subscription and the key id, so a wrong key
//! never signs deliveries with garbage. See `docs/webhooks.md` for rotation.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest as _, Sha256};
use switchboard_domain::WebhookSubscription;

use crate::StorageError;
use crate::config::DatabaseUrl;

/// The prefix of an encrypted value, with the format version.
const PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// One key: an id (stored with every value it encrypts) and 32 secret bytes.
#[derive(Clone)]
pub struct SecretKey {
    id: String,
    key: [u8; KEY_LEN],
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({:?}, <redacted>)", self.id)
    }
}

impl SecretKey {
    /// A key from its id and its 32 bytes.
    ///
    /// # Errors
    ///
    /// When the id is not 1-64 characters of `A-Z a-z 0-9 _ . -`.
    pub fn new(id: &str, key: [u8; KEY_LEN]) -> Result<Self, SecretKeyError> {
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !valid {
            return Err(SecretKeyError::Parse(format!(
                "key id {id:?} must be 1-64 characters of A-Z, a-z, 0-9, '_', '.' and '-'"
            )));
        }
        Ok(Self {
            id: id.to_string(),
            key,
        })
    }

    /// A fresh random key whose id is `auto-` and 8 hex digits of the
    /// key's SHA-256 (so a replaced key file gets another id).
    ///
    /// # Errors
    ///
    /// When the system has no randomness.
    pub fn generate() -> Result<Self, SecretKeyError> {
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key).map_err(|e| SecretKeyError::Parse(e.to_string()))?;
        let digest = Sha256::digest(key);
        let id = digest[..4].iter().fold(String::from("auto-"), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        });
        Self::new(&id, key)
    }

    /// The key's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `id:base64`, as the configuration and key files spell a key.
    #[must_use]
    pub fn to_text(&self) -> String {
        format!("{}:{}", self.id, STANDARD.encode(self.key))
    }

    /// Parses `id:base64` (32 bytes, standard base64).
    ///
    /// # Errors
    ///
    /// When it is not of that shape; the message never echoes key material.
    pub fn parse(text: &str) -> Result<Self, SecretKeyError> {
        let (id, material) = text.trim().split_once(':').ok_or_else(|| {
            SecretKeyError::Parse(
                "a key is `id:base64` (32 random bytes, e.g. `openssl rand -base64 32`)".into(),
            )
        })?;
        let material = material.trim();
        let bytes = STANDARD
            .decode(material)
            .or_else(|_| STANDARD_NO_PAD.decode(material))
            .map_err(|_| {
                SecretKeyError::Parse(format!("key {:?}: the key is not base64", id.trim()))
            })?;
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|b: Vec<u8>| {
            SecretKeyError::Parse(format!(
                "key {:?}: a key is 32 bytes, not {}",
                id.trim(),
                b.len()
            ))
        })?;
        Self::new(id.trim(), key)
    }
}

/// The keys in use: the first encrypts, every one decrypts.
#[derive(Clone, Debug)]
pub struct SecretKeys(Vec<SecretKey>);

impl SecretKeys {
    /// Keys in order of preference (the first encrypts).
    ///
    /// # Errors
    ///
    /// When there is none, or two share an id.
    pub fn new(keys: Vec<SecretKey>) -> Result<Self, SecretKeyError> {
        if keys.is_empty() {
            return Err(SecretKeyError::Parse("no key given".into()));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys[..i].iter().any(|o| o.id == k.id) {
                return Err(SecretKeyError::Parse(format!(
                    "two keys have the id {:?}",
                    k.id
                )));
            }
        }
        Ok(Self(keys))
    }

    /// Parses keys written `id:base64`, separated by commas or lines;
    /// blank lines and lines starting with `#` are skipped.
    ///
    /// # Errors
    ///
    /// As [`SecretKey::parse`] and [`SecretKeys::new`].
    pub fn parse(text: &str) -> Result<Self, SecretKeyError> {
        Self::new(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .flat_map(|l| l.split(','))
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(SecretKey::parse)
                .collect::<Result<_, _>>()?,
        )
    }

    /// The key that encrypts.
    #[must_use]
    pub fn primary(&self) -> &SecretKey {
        &self.0[0]
    }

    /// The ids, in order.
    #[must_use]
    pub fn ids(&self) -> Vec<&str> {
        self.0.iter().map(|k| k.id.as_str()).collect()
    }

    fn get(&self, id: &str) -> Option<&SecretKey> {
        self.0.iter().find(|k| k.id == id)
    }
}

/// Where the keys come from.
#[derive(Clone, Debug, Default)]
pub enum SecretKeySource {
    /// SQLite: the key file beside the database (`<database>.keys`),
    /// created with one fresh key and mode `0600` when missing.
    /// PostgreSQL: an error at open (configure the keys).
    #[default]
    Auto,
    /// These keys.
    Keys(SecretKeys),
    /// The keys in this file (it must exist): one `id:base64` a line.
    File(PathBuf),
}

/// Why the keys cannot be had, or a stored secret cannot be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretKeyError {
    /// A key or key list is malformed.
    #[error("invalid webhook secret key: {0}")]
    Parse(String),
    /// PostgreSQL without configured keys.
    #[error(
        "webhook signing secrets are encrypted at rest and PostgreSQL has no default key: \
         set secrets.keys (SWITCHBOARD_SECRETS_KEYS=\"id:base64,...\") or secrets.key_file \
         (SWITCHBOARD_SECRETS_KEY_FILE), the same on every node; see docs/webhooks.md"
    )]
    Missing,
    /// The key file cannot be read or created.
    #[error("webhook secret key file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The key file holds no valid keys.
    #[error("webhook secret key file {}: {message}", path.display())]
    FileContent {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A stored secret names a key that is not configured.
    #[error(
        "the signing secret of webhook subscription {subscription} is encrypted under key {key_id:?}, \
         which is not among the configured keys ({configured}); configure that key (keep it after the \
         new one to rotate)"
    )]
    UnknownKey {
        /// The subscription.
        subscription: i64,
        /// The key id in the stored value.
        key_id: String,
        /// The configured ids.
        configured: String,
    },
    /// The named key does not open the stored secret.
    #[error(
        "the signing secret of webhook subscription {subscription} does not decrypt with key \
         {key_id:?}: the configured key is wrong (or the value was altered); refusing to sign \
         deliveries with it"
    )]
    WrongKey {
        /// The subscription.
        subscription: i64,
        /// The key id.
        key_id: String,
    },
}

impl SecretKeySource {
    /// These keys, written as [`SecretKeys::parse`] reads them.
    ///
    /// # Errors
    ///
    /// As [`SecretKeys::parse`].
    pub fn keys(text: &str) -> Result<Self, SecretKeyError> {
        SecretKeys::parse(text).map(Self::Keys)
    }

    /// The keys for a store on `url`, creating the default key file when
    /// the source is [`SecretKeySource::Auto`] on SQLite.
    pub(crate) fn resolve(&self, url: &DatabaseUrl) -> Result<SecretKeys, SecretKeyError> {
        match (self, url) {
            (Self::Keys(keys), _) => Ok(keys.clone()),
            (Self::File(path), _) => read_key_file(path),
            (Self::Auto, DatabaseUrl::Sqlite(db)) => load_or_create(&default_key_file(db)),
            (Self::Auto, DatabaseUrl::Postgres(_)) => Err(SecretKeyError::Missing),
        }
    }
}

/// The default key file of an SQLite database: beside it, named after it
/// (`switchboard.db` → `switchboard.db.keys`).
#[must_use]
pub fn default_key_file(database: &Path) -> PathBuf {
    let mut name = database.file_name().unwrap_or_default().to_os_string();
    name.push(".keys");
    database.with_file_name(name)
}

fn read_key_file(path: &Path) -> Result<SecretKeys, SecretKeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| SecretKeyError::File {
        path: path.to_path_buf(),
        source,
    })?;
    warn_if_readable_by_others(path);
    SecretKeys::parse(&text).map_err(|e| SecretKeyError::FileContent {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "the webhook secret key file is readable by other users; chmod 600 it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Reads the key file, or creates it with one fresh key (mode `0600`,
/// written to a temporary file and linked into place, so a concurrent
/// start sees either no file or a whole one, and one of them wins).
fn load_or_create(path: &Path) -> Result<SecretKeys, SecretKeyError> {
    if path.exists() {
        return read_key_file(path);
    }
    let file_error = |source| SecretKeyError::File {
        path: path.to_path_buf(),
        source,
    };
    let key = SecretKey::generate()?;
    let text = format!(
        "# Switchboard webhook signing-secret keys: one `id:base64` a line.\n\
         # The first key encrypts, every key decrypts. Keep this file private (mode 0600)\n\
         # and back it up apart from the database: without it the secrets cannot be read.\n\
         {}\n",
        key.to_text()
    );
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    write_private(&tmp, text.as_bytes()).map_err(file_error)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), key = key.id(), "created the webhook secret key file");
            SecretKeys::new(vec![key])
        }
        // Another process created it meanwhile: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(path),
        Err(e) => Err(file_error(e)),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Encrypts and decrypts stored secrets with the configured keys.
#[derive(Debug)]
pub(crate) struct Cipher {
    keys: SecretKeys,
}

fn aad(tenant: i64) -> Vec<u8> {
    format!("switchboard webhook secret v1; tenant {tenant}").into_bytes()
}

fn aead(key: &SecretKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&key.key.into())
}

impl Cipher {
    pub(crate) const fn new(keys: SecretKeys) -> Self {
        Self { keys }
    }

    /// The stored form of `secret` for `tenant`, under the first key.
    pub(crate) fn seal(&self, tenant: i64, secret: &str) -> Result<String, StorageError> {
        let key = self.keys.primary();
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(StorageError::internal)?;
        let aad = aad(tenant);
        let sealed = aead(key)
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| StorageError::internal("cannot encrypt a webhook secret"))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!(
            "{PREFIX}{}:{}",
            key.id,
            URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// The secret a stored value of `subscription` holds, and the id of the
    /// key it was under (`None`: stored in plaintext, from before
    /// encryption).
    fn open_with_id(
        &self,
        subscription: i64,
        tenant: i64,
        stored: &str,
    ) -> Result<(String, Option<String>), SecretKeyError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok((stored.to_string(), None));
        };
        let wrong = |key_id: &str| SecretKeyError::WrongKey {
            subscription,
            key_id: key_id.to_string(),
        };
        let (key_id, data) = rest.split_once(':').ok_or_else(|| wrong(""))?;
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| SecretKeyError::UnknownKey {
                subscription,
                key_id: key_id.to_string(),
                configured: self.keys.ids().join(", "),
            })?;
        let bytes = URL_SAFE_NO_PAD.decode(data).map_err(|_| wrong(key_id))?;
        if bytes.len() < NONCE_LEN {
            return Err(wrong(key_id));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| wrong(key_id))?;
        let aad = aad(tenant);
        let plain = aead(key)
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| wrong(key_id))?;
        let plain = String::from_utf8(plain).map_err(|_| wrong(key_id))?;
        Ok((plain, Some(key_id.to_string())))
    }

    /// The secret a stored value holds.
    pub(crate) fn open(
        &self,
        subscription: i64,
        tenant: i64,
        stored: &str,
    ) -> Result<String, StorageError> {
        Ok(self.open_with_id(subscription, tenant, stored)?.0)
    }

    /// The value to store instead of `stored` so that it is under the
    /// first key, or `None` when it already is. Fails when no configured
    /// key opens it.
    pub(crate) fn reseal(
        &self,
        subscription: i64,
        tenant: i64,
        stored: &str,
    ) -> Result<Option<String>, StorageError> {
        let (plain, key) = self.open_with_id(subscription, tenant, stored)?;
        if key.as_deref() == Some(self.keys.primary().id.as_str()) {
            return Ok(None);
        }
        self.seal(tenant, &plain).map(Some)
    }

    /// Replaces a subscription's stored secrets with the secrets.
    pub(crate) fn reveal(&self, sub: &mut WebhookSubscription) -> Result<(), StorageError> {
        let (id, tenant) = (sub.id.get(), sub.tenant_id.get());
        sub.secret = self.open(id, tenant, &sub.secret)?;
        if let Some(previous) = &sub.previous_secret {
            sub.previous_secret = Some(self.open(id, tenant, previous)?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> SecretKeys {
        SecretKeys::parse(text).unwrap()
    }

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn seal_open_and_reseal() {
        let c = Cipher::new(keys(K1));
        let stored = c.seal(7, "whsec_abc").unwrap();
        assert!(stored.starts_with("enc:v1:k1:"), "{stored}");
        assert!(!stored.contains("whsec_"));
        assert_ne!(
            stored,
            c.seal(7, "whsec_abc").unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(c.open(1, 7, &stored).unwrap(), "whsec_abc");
        // Bound to its tenant.
        assert!(c.open(1, 8, &stored).is_err());
        // Plaintext from before encryption reads as is, and is resealed.
        assert_eq!(c.open(1, 7, "whsec_old").unwrap(), "whsec_old");
        assert!(c.reseal(1, 7, "whsec_old").unwrap().is_some());
        assert!(c.reseal(1, 7, &stored).unwrap().is_none());
        // Rotation: k2 first, k1 still decrypts; values under k1 move to k2.
        let rotated = Cipher::new(keys(&format!("{K2}\n{K1}")));
        let moved = rotated.reseal(1, 7, &stored).unwrap().unwrap();
        assert!(moved.starts_with("enc:v1:k2:"), "{moved}");
        assert_eq!(rotated.open(1, 7, &moved).unwrap(), "whsec_abc");
        // A wrong key under the same id, or an unknown id: clear errors.
        let wrong = Cipher::new(keys(&format!("k1:{}", K2.split_once(':').unwrap().1)));
        let e = wrong.open(3, 7, &stored).unwrap_err().to_string();
        assert!(e.contains("subscription 3") && e.contains("\"k1\""), "{e}");
        let unknown = Cipher::new(keys(K2));
        let e = unknown.open(3, 7, &stored).unwrap_err().to_string();
        assert!(e.contains("\"k1\"") && e.contains("k2"), "{e}");
    }

    #[test]
    fn key_texts() {
        assert_eq!(keys(&format!("# c\n{K2},{K1}\n")).ids(), ["k2", "k1"]);
        for bad in ["", "k1", "k1:short", "bad id:AAAA", &format!("{K1},{K1}")] {
            let e = SecretKeys::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("AAECAw"), "{e}");
        }
        let generated = SecretKey::generate().unwrap();
        assert!(generated.id().starts_with("auto-"));
        assert_eq!(
            SecretKey::parse(&generated.to_text()).unwrap().key,
            generated.key
        );
        assert!(!format!("{generated:?}").contains(&generated.to_text()));
    }
}
