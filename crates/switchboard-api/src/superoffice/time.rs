//! ISO 8601 date-times in a requested time zone (`SO-TimeZone`).

use jiff::tz::TimeZone;
use switchboard_domain::Timestamp;

use crate::ApiError;

/// SuperOffice's own time zones (`GET /api/v1/timezone`): id, code,
/// country, region, standard offset, daylight offset, and the IANA zone
/// whose rules they follow. The rows are the ones SuperOffice documents
/// (`SuperOfficeDocs/superoffice-docs`, "SOTimezone", `webapi_sotimezone`).
pub const SO_ZONES: [SoZone; 10] = [
    SoZone::new(1, "UTC", "", "UTC/GMT", "0", "", "UTC"),
    SoZone::new(
        36,
        "AU-ACT",
        "Australia",
        "Capital Territory",
        "+10:00",
        "+11:00",
        "Australia/Sydney",
    ),
    SoZone::new(50, "BD", "Bangladesh", "", "+6:00", "", "Asia/Dhaka"),
    SoZone::new(
        114,
        "CA-QC",
        "Canada",
        "Quebec",
        "-5:00",
        "-4:00",
        "America/Toronto",
    ),
    SoZone::new(
        140,
        "DK",
        "Denmark",
        "",
        "+1:00",
        "+2:00",
        "Europe/Copenhagen",
    ),
    SoZone::new(156, "FR", "France", "", "+1:00", "+2:00", "Europe/Paris"),
    SoZone::new(261, "NO", "Norway", "", "+1:00", "+2:00", "Europe/Oslo"),
    SoZone::new(
        425,
        "US-CA",
        "United States",
        "California",
        "-8:00",
        "-7:00",
        "America/Los_Angeles",
    ),
    SoZone::new(
        433,
        "US-HI",
        "United States",
        "Hawaii",
        "-10:00",
        "",
        "Pacific/Honolulu",
    ),
    SoZone::new(
        460,
        "US-NY",
        "United States",
        "New York",
        "-5:00",
        "-4:00",
        "America/New_York",
    ),
];

/// One of SuperOffice's time zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoZone {
    /// Numeric id (`261`).
    pub id: i64,
    /// Code (`NO`, `US-NY`).
    pub code: &'static str,
    /// Country name.
    pub country: &'static str,
    /// Region name.
    pub region: &'static str,
    /// Standard offset from UTC.
    pub offset: &'static str,
    /// Daylight-saving offset ("" when none).
    pub daylight: &'static str,
    /// The IANA zone whose rules it follows.
    pub iana: &'static str,
}

impl SoZone {
    const fn new(
        id: i64,
        code: &'static str,
        country: &'static str,
        region: &'static str,
        offset: &'static str,
        daylight: &'static str,
        iana: &'static str,
    ) -> Self {
        Self {
            id,
            code,
            country,
            region,
            offset,
            daylight,
            iana,
        }
    }
}

/// The zone responses are rendered in, and whether date-times carry their
/// offset.
#[derive(Debug, Clone)]
pub struct Zone {
    tz: TimeZone,
    offset: bool,
}

fn unknown_zone(name: &str) -> ApiError {
    ApiError::bad_request(
        "SO-TimeZone",
        "time_zone",
        format!(
            "unknown time zone {name:?}; use a SuperOffice code or id from GET /api/v1/timezone \
             (NO, US-NY, 261), optionally with \", includeTZOffset\", or an IANA name such as \
             Europe/Oslo, or UTC"
        ),
    )
}

impl Zone {
    /// UTC, with offsets.
    #[must_use]
    pub fn utc() -> Self {
        Self {
            tz: TimeZone::UTC,
            offset: true,
        }
    }

    /// The zone of an `SO-TimeZone` header: a SuperOffice code (`NO`,
    /// `US-NY`) or id (`261`), optionally followed by `, includeTZOffset`
    /// (as SuperOffice, date-times carry no offset without it); or an IANA
    /// name (`Europe/Oslo`) or `UTC` (Switchboard's extension: always with
    /// the offset). Anything else is a 400.
    pub fn from_header(value: &str) -> Result<Self, ApiError> {
        let mut parts = value.split(',').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let mut include_offset = false;
        for option in parts.filter(|p| !p.is_empty()) {
            if option.eq_ignore_ascii_case("includeTZOffset") {
                include_offset = true;
            } else {
                return Err(ApiError::bad_request(
                    "SO-TimeZone",
                    "time_zone",
                    format!("unknown option {option:?}; the one option is includeTZOffset"),
                ));
            }
        }
        if name.eq_ignore_ascii_case("utc") || name.eq_ignore_ascii_case("z") {
            return Ok(Self::utc());
        }
        let so = SO_ZONES.iter().find(|z| {
            z.code.eq_ignore_ascii_case(name) || name.parse::<i64>().is_ok_and(|id| id == z.id)
        });
        if let Some(z) = so {
            let tz = TimeZone::get(z.iana).map_err(|_| unknown_zone(name))?;
            return Ok(Self {
                tz,
                offset: include_offset,
            });
        }
        TimeZone::get(name)
            .map(|tz| Self { tz, offset: true })
            .map_err(|_| unknown_zone(name))
    }

    /// An IANA zone name (`Europe/Oslo`) or `UTC`; unknown names are a 400.
    pub fn named(name: &str) -> Result<Self, ApiError> {
        Self::from_header(name)
    }

    /// `2026-11-21T10:15:30+01:00`, with `.mmm` when the milliseconds are
    /// not zero; without the offset for a SuperOffice zone asked for
    /// without `includeTZOffset`.
    #[must_use]
    pub fn format(&self, t: Timestamp) -> String {
        use std::fmt::Write as _;
        let Ok(ts) = jiff::Timestamp::from_millisecond(t.as_millis()) else {
            return String::new();
        };
        // Written field by field into one buffer: `strftime` parses its
        // format on every call and this runs for every date of every
        // entity served.
        let offset = self.tz.to_offset(ts);
        let local = offset.to_datetime(ts);
        let mut out = String::with_capacity(32);
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            local.year(),
            local.month(),
            local.day(),
            local.hour(),
            local.minute(),
            local.second()
        );
        let ms = t.as_millis().rem_euclid(1000);
        if ms != 0 {
            let _ = write!(out, ".{ms:03}");
        }
        if self.offset {
            let secs = offset.seconds();
            let sign = if secs < 0 { '-' } else { '+' };
            let abs = secs.unsigned_abs();
            let _ = write!(out, "{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60);
            // A historical local mean time keeps its seconds, as jiff's
            // `%:z` writes them.
            if !abs.is_multiple_of(60) {
                let _ = write!(out, ":{:02}", abs % 60);
            }
        }
        out
    }

    /// Parses a date-time of a request: with an offset (`Z`, `±hh:mm`) it
    /// is that instant; without one it is a local time of this zone (as
    /// SuperOffice reads it).
    #[must_use]
    pub fn parse(&self, s: &str) -> Option<Timestamp> {
        parse(s).or_else(|| {
            let civil: jiff::civil::DateTime = s.trim().parse().ok()?;
            let zoned = civil.to_zoned(self.tz.clone()).ok()?;
            Some(Timestamp::from_millis(zoned.timestamp().as_millisecond()))
        })
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
        // SuperOffice's codes and ids, with and without the offset
        let ny = Zone::from_header("US-NY").unwrap();
        assert_eq!(ny.format(t), "2023-11-14T17:13:20");
        assert_eq!(ny.parse("2023-11-14T17:13:20"), Some(t));
        let ny = Zone::from_header("us-ny, includeTZOffset").unwrap();
        assert_eq!(ny.format(t), "2023-11-14T17:13:20-05:00");
        assert_eq!(
            Zone::from_header("261").unwrap().format(t),
            "2023-11-14T23:13:20"
        );
        assert_eq!(
            Zone::from_header("NO,includetzoffset").unwrap().format(t),
            "2023-11-14T23:13:20+01:00"
        );
        assert!(Zone::from_header("NO, sideways").is_err());
        assert!(Zone::from_header("999").is_err());
        assert_eq!(parse("2023-11-14T22:13:20Z"), Some(t));
        assert_eq!(parse("yesterday"), None);
    }

    /// `format` writes what jiff's `strftime` of the same instant in the
    /// same zone writes, for odd offsets (quarter hours, the seconds of a
    /// historical local mean time), both signs, milliseconds and the edges
    /// of the supported range.
    #[test]
    fn format_matches_strftime() {
        let zones = [
            "UTC",
            "Europe/Oslo",
            "America/New_York",
            "Asia/Kathmandu",
            "Pacific/Chatham",
            "Europe/Amsterdam",
            "America/St_Johns",
        ];
        let instants = [
            0,
            1,
            -1,
            999,
            1_700_000_000_123,
            -2_208_988_800_000,   // 1900-01-01, local mean times
            -62_135_596_800_000,  // 0001-01-01
            253_402_207_200_000,  // the last instant jiff holds
            -377_705_023_201_000, // the first
            1_711_846_799_500,    // a second before Europe's spring change
        ];
        for name in zones {
            let tz = jiff::tz::TimeZone::get(name).unwrap();
            for offset in [false, true] {
                let zone = Zone {
                    tz: tz.clone(),
                    offset,
                };
                for ms in instants {
                    let zoned = jiff::Timestamp::from_millisecond(ms)
                        .unwrap()
                        .to_zoned(tz.clone());
                    let mut want = zoned.strftime("%Y-%m-%dT%H:%M:%S").to_string();
                    if ms.rem_euclid(1000) != 0 {
                        want.push_str(&format!(".{:03}", ms.rem_euclid(1000)));
                    }
                    if offset {
                        want.push_str(&zoned.strftime("%:z").to_string());
                    }
                    let got = zone.format(Timestamp::from_millis(ms));
                    assert_eq!(got, want, "{name} {ms} offset={offset}");
                }
            }
        }
    }
}
