//! API key secrets: generation, hashing and verification.
//!
//! A key looks like `sbk_<12 hex prefix>_<40 hex secret>`. The prefix is
//! stored in clear to find the row; only the SHA-256 of the whole key is
//! stored. Keys carry 160 random bits, so a fast hash is appropriate (no
//! password stretching is needed for high-entropy secrets).

use sha2::{Digest, Sha256};

/// A newly generated key: show `secret` to the user once, store the rest.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The full key, shown once.
    pub secret: String,
    /// The lookup prefix stored in clear.
    pub prefix: String,
    /// Hex SHA-256 of `secret`.
    pub hash: String,
}

/// Generates a fresh random key.
pub fn generate() -> Result<GeneratedKey, getrandom::Error> {
    let mut bytes = [0u8; 26];
    getrandom::fill(&mut bytes)?;
    let prefix = hex(&bytes[..6]);
    let secret = format!("sbk_{prefix}_{}", hex(&bytes[6..]));
    Ok(GeneratedKey {
        hash: hash(&secret),
        prefix,
        secret,
    })
}

/// The lookup prefix of a presented key, if it has the key's shape.
///
/// ```
/// assert_eq!(switchboard_storage::keys::prefix_of("sbk_0123456789ab_ffff"), Some("0123456789ab"));
/// assert_eq!(switchboard_storage::keys::prefix_of("nope"), None);
/// ```
#[must_use]
pub fn prefix_of(presented: &str) -> Option<&str> {
    let rest = presented.strip_prefix("sbk_")?;
    let (prefix, secret) = rest.split_once('_')?;
    (prefix.len() == 12
        && prefix.bytes().all(|b| b.is_ascii_hexdigit())
        && !secret.is_empty()
        && secret.len() <= 128)
        .then_some(prefix)
}

/// Hex SHA-256 of a key.
#[must_use]
pub fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Whether `presented` hashes to `stored_hash`, compared in constant time
/// (lengths first, then every byte without early exit).
#[must_use]
pub fn verify(presented: &str, stored_hash: &str) -> bool {
    let a = hash(presented);
    let (a, b) = (a.as_bytes(), stored_hash.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_verify_and_differ() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.secret, b.secret);
        assert_eq!(prefix_of(&a.secret), Some(a.prefix.as_str()));
        assert!(verify(&a.secret, &a.hash));
        assert!(!verify(&b.secret, &a.hash));
        assert!(!verify("", &a.hash));
        assert!(!verify(&a.secret, "short"));
    }
}
