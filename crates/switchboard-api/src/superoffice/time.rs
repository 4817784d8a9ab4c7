//! ISO 8601 date-times in a requested time zone (`SO-TimeZone`).

use jiff::tz::TimeZone;
use switchboard_domain::Timestamp;

use crate::ApiError;

/// The zone responses are rendered in.
#[derive(Debug, Clone)]
pub struct Zone(TimeZone);

impl Zone {
    /// UTC.
    #[must_use]
    pub fn utc() -> Self {
        Self(TimeZone::UTC)
    }

    /// An IANA zone name (`Europe/Oslo`) or `UTC`; unknown names are a 400.
    pub fn named(name: &str) -> Result<Self, ApiError> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("utc") || name.eq_ignore_ascii_case("z") {
            return Ok(Self::utc());
        }
        TimeZone::get(name).map(Self).map_err(|_| {
            ApiError::bad_request(
                "SO-TimeZone",
                "time_zone",
                format!("unknown time zone {name:?}; use an IANA name such as Europe/Oslo, or UTC"),
            )
        })
    }

    /// `2026-11-21T10:15:30+01:00`, with `.mmm` when the milliseconds are not zero.
    #[must_use]
    pub fn format(&self, t: Timestamp) -> String {
        let Ok(ts) = jiff::Timestamp::from_millisecond(t.as_millis()) else {
            return String::new();
        };
        let zoned = ts.to_zoned(self.0.clone());
        let base = zoned.strftime("%Y-%m-%dT%H:%M:%S").to_string();
        let ms = t.as_millis().rem_euclid(1000);
        let offset = zoned.strftime("%:z").to_string();
        if ms == 0 {
            format!("{base}{offset}")
        } else {
            format!("{base}.{ms:03}{offset}")
        }
    }
}

/// Parses an ISO 8601 date-time with an offset (`Z` or `±hh:mm`).
pub fn parse(s: &str) -> Option<Timestamp> {
    let ts: jiff::Timestamp = s.trim().parse().ok()?;
    Some(Timestamp::from_millis(ts.as_millisecond()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_zone_and_parses_back() {
        let t = Timestamp::from_millis(1_700_000_000_000);
        assert_eq!(Zone::utc().format(t), "2023-11-14T22:13:20+00:00");
        let oslo = Zone::named("Europe/Oslo").unwrap();
        assert_eq!(oslo.format(t), "2023-11-14T23:13:20+01:00");
        assert_eq!(parse(&oslo.format(t)), Some(t));
        let with_ms = Timestamp::from_millis(1_700_000_000_123);
        assert_eq!(parse(&Zone::utc().format(with_ms)), Some(with_ms));
        assert!(Zone::named("Mars/Olympus").is_err());
        assert_eq!(parse("2023-11-14T22:13:20Z"), Some(t));
        assert_eq!(parse("yesterday"), None);
    }
}
