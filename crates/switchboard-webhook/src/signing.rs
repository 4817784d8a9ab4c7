//! [Standard Webhooks](https://www.standardwebhooks.com/) signatures.
//!
//! Every delivery carries three headers:
//!
//! * `webhook-id`: the delivery's message id, the same on every retry (the
//!   receiver's deduplication key);
//! * `webhook-timestamp`: UNIX seconds when the attempt was signed;
//! * `webhook-signature`: `v1,` followed by the base64 HMAC-SHA256 of
//!   `"{id}.{timestamp}.{body}"`, keyed with the base64-decoded part of the
//!   subscription's `whsec_…` secret. During a secret rotation's grace
//!   period, the signatures of both secrets are sent, separated by a space.
//!
//! [`verify`] is what a receiver runs.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// The prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The signature version this crate produces and accepts.
const VERSION: &str = "v1";

/// How far a timestamp may be from now before [`verify`] refuses it, by
/// default (the Standard Webhooks recommendation).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The three headers of a signed delivery.
pub mod headers {
    /// The message id, stable across retries.
    pub const ID: &str = "webhook-id";
    /// UNIX seconds of the attempt.
    pub const TIMESTAMP: &str = "webhook-timestamp";
    /// `v1,<base64>` (space-separated when there are several).
    pub const SIGNATURE: &str = "webhook-signature";
}

/// A secret that cannot be used for signing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The secret is not `whsec_` followed by base64.
    #[error("a signing secret is `whsec_` followed by base64")]
    Malformed,
    /// The decoded key is empty or too short to be safe (under 16 bytes).
    #[error("a signing secret must decode to at least 16 bytes")]
    TooShort,
    /// No randomness was available to generate a secret.
    #[error("no randomness available to generate a secret")]
    Random,
}

/// Why a signature was refused. The variants say what to fix; none of them
/// reveals the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The verifier's secret is unusable.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A header is missing or empty.
    #[error("the {0} header is missing or empty")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not a whole number of seconds.
    #[error("the webhook-timestamp header is not UNIX seconds")]
    InvalidTimestamp,
    /// The timestamp is older than the tolerance (a replay, or a very slow delivery).
    #[error("the message timestamp is too old")]
    Expired,
    /// The timestamp is further in the future than the tolerance.
    #[error("the message timestamp is too far in the future")]
    FutureTimestamp,
    /// No `v1` signature in the header matches.
    #[error("no matching signature")]
    NoMatch,
}

/// Decodes a `whsec_…` secret into its HMAC key.
///
/// ```
/// use switchboard_webhook::signing::decode_secret;
/// assert_eq!(decode_secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap().len(), 24);
/// assert!(decode_secret("C2FVsBQIhrscChlQIMV+b5sSYspob7oD").is_err());
/// ```
pub fn decode_secret(secret: &str) -> Result<Vec<u8>, SecretError> {
    let encoded = secret
        .strip_prefix(SECRET_PREFIX)
        .ok_or(SecretError::Malformed)?;
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| SecretError::Malformed)?;
    if key.len() < 16 {
        return Err(SecretError::TooShort);
    }
    Ok(key)
}

/// A new random secret: `whsec_` and base64 of 32 random bytes.
///
/// ```
/// let s = switchboard_webhook::signing::generate_secret().unwrap();
/// assert!(s.starts_with("whsec_"));
/// assert_eq!(switchboard_webhook::signing::decode_secret(&s).unwrap().len(), 32);
/// ```
pub fn generate_secret() -> Result<String, SecretError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|_| SecretError::Random)?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)))
}

fn mac(key: &[u8], msg_id: &str, timestamp: &str, body: &[u8]) -> Result<Vec<u8>, SecretError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| SecretError::TooShort)?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac.finalize().into_bytes().to_vec())
}

/// The `v1,<base64>` signature of one message.
///
/// ```
/// use switchboard_webhook::signing::sign;
/// let sig = sign(
///     "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
///     "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
///     1649367553,
///     br#"{"email":"test@example.com","username":"test_user"}"#,
/// ).unwrap();
/// assert_eq!(sig, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
/// ```
pub fn sign(
    secret: &str,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SecretError> {
    let key = decode_secret(secret)?;
    let mac = mac(&key, msg_id, &timestamp.to_string(), body)?;
    Ok(format!("{VERSION},{}", STANDARD.encode(mac)))
}

/// The `webhook-signature` header value for `secrets` (the current one
/// first, then any still in their rotation grace period), space-separated.
pub fn signature_header(
    secrets: &[&str],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SecretError> {
    let signatures = secrets
        .iter()
        .map(|s| sign(s, msg_id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

/// Byte equality in constant time for inputs of equal length: the lengths
/// are compared first (they are not secret), then every byte is compared
/// without an early exit.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Verifies a delivery as a receiver would: the timestamp must be within
/// `tolerance` of `now_unix` (seconds) in either direction, and one of the
/// `v1` signatures in `signature_header` must match `secret`. Signatures of
/// other versions are ignored.
///
/// ```
/// use std::time::Duration;
/// use switchboard_webhook::signing::{verify, VerifyError};
/// let secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
/// let body = br#"{"email":"test@example.com","username":"test_user"}"#;
/// let id = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
/// let sig = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
/// let tolerance = Duration::from_secs(300);
/// assert_eq!(verify(secret, id, "1649367553", sig, body, 1649367553, tolerance), Ok(()));
/// assert_eq!(verify(secret, id, "1649367553", sig, b"{}", 1649367553, tolerance), Err(VerifyError::NoMatch));
/// ```
pub fn verify(
    secret: &str,
    msg_id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let key = decode_secret(secret)?;
    if msg_id.trim().is_empty() {
        return Err(VerifyError::MissingHeader(headers::ID));
    }
    let timestamp = timestamp.trim();
    if timestamp.is_empty() {
        return Err(VerifyError::MissingHeader(headers::TIMESTAMP));
    }
    if signature_header.trim().is_empty() {
        return Err(VerifyError::MissingHeader(headers::SIGNATURE));
    }
    if !timestamp.bytes().all(|b| b.is_ascii_digit()) || timestamp.len() > 12 {
        return Err(VerifyError::InvalidTimestamp);
    }
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| VerifyError::InvalidTimestamp)?;
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if ts < now_unix.saturating_sub(tolerance) {
        return Err(VerifyError::Expired);
    }
    if ts > now_unix.saturating_add(tolerance) {
        return Err(VerifyError::FutureTimestamp);
    }
    let expected = mac(&key, msg_id, timestamp, body)?;
    let mut matched = false;
    for candidate in signature_header.split(' ').filter(|s| !s.is_empty()) {
        let Some((version, encoded)) = candidate.split_once(',') else {
            continue;
        };
        if version != VERSION {
            continue;
        }
        let Ok(given) = STANDARD.decode(encoded) else {
            continue;
        };
        // Check every candidate (no early exit) so timing does not say which matched.
        matched |= constant_time_eq(&given, &expected);
    }
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: i64 = 1_649_367_553;
    const BODY: &[u8] = br#"{"email":"test@example.com","username":"test_user"}"#;
    const SIG: &str = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=";
    const TOL: Duration = DEFAULT_TOLERANCE;

    #[test]
    fn known_vector() {
        assert_eq!(sign(SECRET, ID, TS, BODY).unwrap(), SIG);
        assert_eq!(verify(SECRET, ID, "1649367553", SIG, BODY, TS, TOL), Ok(()));
    }

    #[test]
    fn refusals() {
        let ts = TS.to_string();
        let other = generate_secret().unwrap();
        let flipped = {
            let mut s = SIG.to_string();
            s.replace_range(5..6, "A");
            s
        };
        let rotated = format!("v1,AAAA {SIG}");
        /// A verification's inputs and what it answers.
        #[derive(Debug)]
        struct Case<'a> {
            secret: &'a str,
            id: &'a str,
            ts: &'a str,
            sig: &'a str,
            body: &'a [u8],
            now: i64,
            expected: Result<(), VerifyError>,
        }
        // Each case changes what it names of this valid one.
        let valid = Case {
            secret: SECRET,
            id: ID,
            ts: &ts,
            sig: SIG,
            body: BODY,
            now: TS,
            expected: Ok(()),
        };
        let no_match = || Err(VerifyError::NoMatch);
        let cases = [
            // tampered body, id, timestamp (re-signed timestamps differ), signature
            Case {
                body: br#"{"email":"evil@example.com","username":"test_user"}"#,
                expected: no_match(),
                ..valid
            },
            Case {
                id: "msg_other",
                expected: no_match(),
                ..valid
            },
            Case {
                ts: "1649367554",
                expected: no_match(),
                ..valid
            },
            Case {
                sig: &flipped,
                expected: no_match(),
                ..valid
            },
            // wrong secret
            Case {
                secret: &other,
                expected: no_match(),
                ..valid
            },
            // expired and future-dated, just past the tolerance; at the edge it passes
            Case {
                now: TS + 301,
                expected: Err(VerifyError::Expired),
                ..valid
            },
            Case {
                now: TS - 301,
                expected: Err(VerifyError::FutureTimestamp),
                ..valid
            },
            Case {
                now: TS + 300,
                expected: Ok(()),
                ..valid
            },
            Case {
                now: TS - 300,
                expected: Ok(()),
                ..valid
            },
            // empty and malformed headers
            Case {
                sig: "",
                expected: Err(VerifyError::MissingHeader(headers::SIGNATURE)),
                ..valid
            },
            Case {
                sig: "   ",
                expected: Err(VerifyError::MissingHeader(headers::SIGNATURE)),
                ..valid
            },
            Case {
                id: "",
                expected: Err(VerifyError::MissingHeader(headers::ID)),
                ..valid
            },
            Case {
                ts: "",
                expected: Err(VerifyError::MissingHeader(headers::TIMESTAMP)),
                ..valid
            },
            Case {
                ts: "16493675x3",
                expected: Err(VerifyError::InvalidTimestamp),
                ..valid
            },
            Case {
                ts: "-1649367553",
                expected: Err(VerifyError::InvalidTimestamp),
                ..valid
            },
            Case {
                sig: "v1,",
                expected: no_match(),
                ..valid
            },
            Case {
                sig: "v1",
                expected: no_match(),
                ..valid
            },
            Case {
                sig: "v1,!!notbase64",
                expected: no_match(),
                ..valid
            },
            // a shorter prefix of the right signature (length differs) is refused
            Case {
                sig: "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPe",
                expected: no_match(),
                ..valid
            },
            // another version's signature with the right bytes is ignored
            Case {
                sig: "v2,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
                expected: no_match(),
                ..valid
            },
            // several signatures: any match passes (rotation)
            Case {
                sig: &rotated,
                expected: Ok(()),
                ..valid
            },
            // unusable secrets
            Case {
                secret: "C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
                expected: Err(VerifyError::Secret(SecretError::Malformed)),
                ..valid
            },
            Case {
                secret: "whsec_",
                expected: Err(VerifyError::Secret(SecretError::TooShort)),
                ..valid
            },
            Case {
                secret: "whsec_%%%",
                expected: Err(VerifyError::Secret(SecretError::Malformed)),
                ..valid
            },
        ];
        for (i, c) in cases.iter().enumerate() {
            assert_eq!(
                verify(c.secret, c.id, c.ts, c.sig, c.body, c.now, TOL),
                c.expected,
                "case {i}: {:?} at {}",
                c.sig,
                c.now
            );
        }
        // The baseline itself passes.
        assert_eq!(
            verify(
                valid.secret,
                valid.id,
                valid.ts,
                valid.sig,
                valid.body,
                valid.now,
                TOL
            ),
            valid.expected
        );
    }

    #[test]
    fn rotation_sends_both_signatures() {
        let new = generate_secret().unwrap();
        let header = signature_header(&[&new, SECRET], ID, TS, BODY).unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1], SIG);
        for secret in [new.as_str(), SECRET] {
            assert_eq!(
                verify(secret, ID, "1649367553", &header, BODY, TS, TOL),
                Ok(())
            );
        }
    }

    #[test]
    fn constant_time_eq_checks_lengths_first() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
