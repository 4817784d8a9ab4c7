//! Points in time.
//!
//! The domain keeps every instant as a [`Timestamp`]: milliseconds since the
//! UNIX epoch, UTC. Dialects render it as they need (HelpCrunch: UNIX-seconds
//! strings, SuperOffice: ISO 8601, Zoho: epoch-millisecond strings).

use serde::{Deserialize, Serialize};

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

/// The latest instant accepted anywhere: 9999-12-31T23:59:59.999Z.
pub const MAX_MILLIS: i64 = 253_402_300_799_999;

impl Timestamp {
    /// Builds a timestamp from milliseconds since the epoch.
    #[must_use]
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Builds a timestamp from whole seconds since the epoch (saturating).
    #[must_use]
    pub const fn from_unix_seconds(s: i64) -> Self {
        Self(s.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded towards negative infinity).
    #[must_use]
    pub const fn as_unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant truncated to whole seconds, as HTTP-dates carry it.
    #[must_use]
    pub const fn truncated_to_seconds(self) -> Self {
        Self(self.as_unix_seconds() * 1000)
    }

    /// Parses a UNIX timestamp string as HelpCrunch sends it: decimal whole
    /// seconds, optionally with a fractional part (`"1570000000"`,
    /// `"1570000000.5"`). Also accepts 13-digit millisecond values.
    ///
    /// ```
    /// use switchboard_domain::Timestamp;
    /// assert_eq!(Timestamp::parse_unix("1570000000").unwrap().as_millis(), 1_570_000_000_000);
    /// assert!(Timestamp::parse_unix("yesterday").is_err());
    /// ```
    pub fn parse_unix(s: &str) -> Result<Self, InvalidTimestamp> {
        let invalid = || InvalidTimestamp {
            input: s.chars().take(40).collect(),
        };
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        if int.is_empty() || int.len() > 13 || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let whole: i64 = int.parse().map_err(|_| invalid())?;
        let mut ms = if int.len() == 13 {
            whole
        } else {
            whole.checked_mul(1000).ok_or_else(invalid)?
        };
        if let Some(frac) = frac {
            if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            if int.len() != 13 {
                let padded: String = frac.chars().chain("000".chars()).take(3).collect();
                ms += padded.parse::<i64>().map_err(|_| invalid())?;
            }
        }
        if ms > MAX_MILLIS {
            return Err(invalid());
        }
        Ok(Self(ms))
    }
}

/// A string that is not a UNIX timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a UNIX timestamp")]
pub struct InvalidTimestamp {
    /// The offending input (truncated).
    pub input: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_timestamp_strings() {
        let cases: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),
            ("1570000000", Some(1_570_000_000_000)),
            ("1570000000.25", Some(1_570_000_000_250)),
            ("1570000000123", Some(1_570_000_000_123)),
            ("253402300799", Some(253_402_300_799_000)),
            ("253402300800", None),
            ("-5", None),
            ("", None),
            ("12a", None),
            ("1.", None),
            ("1e9", None),
            ("99999999999999", None),
        ];
        for (input, want) in cases {
            assert_eq!(
                Timestamp::parse_unix(input).ok().map(Timestamp::as_millis),
                *want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn second_truncation_floors() {
        assert_eq!(
            Timestamp::from_millis(1999)
                .truncated_to_seconds()
                .as_millis(),
            1000
        );
        assert_eq!(Timestamp::from_millis(-1).as_unix_seconds(), -1);
    }
}
