//! Accounting periods (`YYYYPP`) and the date formats both systems put on the wire.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::ParseError;

/// The highest period number accepted. Vantagepoint fiscal years are usually 12 or 13 periods, but weekly
/// calendars have up to 53, so anything in `1..=53` is accepted; 0 and 54+ are refused.
pub const MAX_PERIOD_NUMBER: u32 = 53;

/// A Vantagepoint accounting period, `YYYYPP` (e.g. `202606` = year 2026, period 6).
///
/// On the wire VP sends it as a number (`"Period":201305`) or as a string (`"Period":"201305"` in PP lines);
/// both parse. It is always written back as a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Period {
    year: u16,
    number: u8,
}

impl Period {
    pub fn new(year: u32, number: u32) -> Result<Self, ParseError> {
        let raw = year.saturating_mul(100).saturating_add(number);
        if !(1900..=2999).contains(&year) {
            return Err(ParseError::new(
                "period",
                raw.to_string(),
                "year must be 1900..=2999",
            ));
        }
        if !(1..=MAX_PERIOD_NUMBER).contains(&number) {
            return Err(ParseError::new(
                "period",
                raw.to_string(),
                "period number must be 1..=53",
            ));
        }
        Ok(Self {
            year: year as u16,
            number: number as u8,
        })
    }
    /// Parses the integer form `202606`.
    pub fn from_yyyypp(value: i64) -> Result<Self, ParseError> {
        if !(190_001..=299_999).contains(&value) {
            return Err(ParseError::new(
                "period",
                value.to_string(),
                "expected YYYYPP",
            ));
        }
        Self::new((value / 100) as u32, (value % 100) as u32)
    }
    /// Parses the string form `"202606"` (surrounding blanks allowed).
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let trimmed = value.trim();
        if trimmed.len() != 6 || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::new(
                "period",
                value,
                "expected six digits YYYYPP",
            ));
        }
        let raw: i64 = trimmed
            .parse()
            .map_err(|_| ParseError::new("period", value, "expected YYYYPP"))?;
        Self::from_yyyypp(raw)
    }
    pub fn year(&self) -> u32 {
        u32::from(self.year)
    }
    pub fn number(&self) -> u32 {
        u32::from(self.number)
    }
    /// The integer form, `202606`.
    pub fn as_yyyypp(&self) -> u32 {
        self.year() * 100 + self.number()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:02}", self.year, self.number)
    }
}
impl FromStr for Period {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.as_yyyypp())
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PeriodVisitor;
        impl Visitor<'_> for PeriodVisitor {
            type Value = Period;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a period YYYYPP as a number or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Period, E> {
                Period::from_yyyypp(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Period, E> {
                let v = i64::try_from(v).map_err(E::custom)?;
                Period::from_yyyypp(v).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Period, E> {
                Period::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(PeriodVisitor)
    }
}

/// Parses a Vantagepoint date: `"2017-12-23T00:00:00.000"`, `"2017-12-23T00:00:00"` or `"2017-12-23"`.
/// Returns `Ok(None)` for `""` (VP's empty date).
pub fn parse_vp_date(value: &str) -> Result<Option<NaiveDate>, ParseError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let date_part = trimmed.get(..10).unwrap_or(trimmed);
    NaiveDate::parse_from_str(date_part, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            ParseError::new(
                "Vantagepoint date",
                value,
                "expected YYYY-MM-DDTHH:MM:SS.fff",
            )
        })
}

/// Formats a date the way Vantagepoint writes it: `"2017-12-23T00:00:00.000"`.
pub fn format_vp_date(date: NaiveDate) -> String {
    format!("{}T00:00:00.000", date.format("%Y-%m-%d"))
}

/// Parses an Exact Online date: `"/Date(1351209600000)/"` (the Dutch wall-clock time written as if UTC, see
/// [`crate::cet`]; date-only fields are local midnight) or an ISO-8601 string. A string with a zone
/// (`"2024-05-31T22:30:00Z"`) is an instant and yields the Dutch date at that instant (2024-06-01); one without
/// (`"2024-05-13T00:00"`, `"2024-05-13"`) is already Dutch local time. Returns `Ok(None)` for `""`.
pub fn parse_exact_date(value: &str) -> Result<Option<NaiveDate>, ParseError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if let Some(inner) = trimmed
        .strip_prefix("/Date(")
        .and_then(|s| s.strip_suffix(")/"))
    {
        // An offset suffix (`/Date(ms+0100)/`) may follow the milliseconds; the date is taken from the ms.
        let digits_end = inner
            .char_indices()
            .skip(1)
            .find(|(_, c)| !c.is_ascii_digit())
            .map_or(inner.len(), |(i, _)| i);
        let ms: i64 = inner[..digits_end]
            .parse()
            .map_err(|_| ParseError::new("Exact date", value, "expected /Date(milliseconds)/"))?;
        return DateTime::from_timestamp_millis(ms)
            .map(|dt| Some(dt.date_naive()))
            .ok_or_else(|| ParseError::new("Exact date", value, "milliseconds out of range"));
    }
    if let Some(at) = parse_zoned(trimmed) {
        return Ok(Some(crate::cet::date_at(at)));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(trimmed, format) {
            return Ok(Some(dt.date()));
        }
    }
    NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            ParseError::new(
                "Exact date",
                value,
                "expected /Date(ms)/ or an ISO-8601 date",
            )
        })
}

/// An ISO-8601 date and time with a zone (`Z`, `+02:00`, or `Z`/offset after minutes only) as an instant.
fn parse_zoned(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    // `2024-05-13T00:00Z` (no seconds) is ISO-8601 but not RFC 3339.
    let naive = s.strip_suffix('Z')?;
    NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M")
        .ok()
        .map(|d| d.and_utc())
}

/// Formats a date the way Exact reads it in request bodies: Dutch local midnight without a zone,
/// `"2024-05-13T00:00:00"` (the form Exact's own SDK sends). A `Z` would make it an instant that Exact converts
/// to CET (reference §1.7).
pub fn format_exact_date(date: NaiveDate) -> String {
    format!("{}T00:00:00", date.format("%Y-%m-%d"))
}

/// Formats an instant as Exact reads times without a zone: the Dutch wall-clock time, `YYYY-MM-DDTHH:MM:SS`
/// (for request bodies and `datetime'…'` filter literals).
pub fn format_exact_instant(at: DateTime<Utc>) -> String {
    crate::cet::wall_from_utc(at)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

fn deserialize_text_or_null<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(deserializer)
}

/// Serde helper for a required Vantagepoint date (`#[serde(with = "vp_date")]`).
pub mod vp_date {
    use super::*;
    pub fn serialize<S: Serializer>(date: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_vp_date(*date))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_vp_date(&text)
            .map_err(de::Error::custom)?
            .ok_or_else(|| de::Error::custom("a date is required here, got \"\""))
    }
}

/// Serde helper for an optional Vantagepoint date: `""` and `null` read as `None`, `None` writes `""`.
/// Use with `#[serde(default, with = "vp_date_opt")]`.
pub mod vp_date_opt {
    use super::*;
    pub fn serialize<S: Serializer>(
        date: &Option<NaiveDate>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match date {
            Some(d) => serializer.serialize_str(&format_vp_date(*d)),
            None => serializer.serialize_str(""),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<NaiveDate>, D::Error> {
        match deserialize_text_or_null(deserializer)? {
            Some(text) => parse_vp_date(&text).map_err(de::Error::custom),
            None => Ok(None),
        }
    }
}

/// Serde helper for a required Exact date: reads `/Date(ms)/` or ISO, writes ISO (`2024-05-13T00:00:00Z`).
pub mod exact_date {
    use super::*;
    pub fn serialize<S: Serializer>(date: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_exact_date(*date))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_exact_date(&text)
            .map_err(de::Error::custom)?
            .ok_or_else(|| de::Error::custom("a date is required here, got \"\""))
    }
}

/// Serde helper for an optional Exact date: `null`/`""` read as `None`; `None` writes `null`.
/// Use with `#[serde(default, with = "exact_date_opt", skip_serializing_if = "Option::is_none")]`.
pub mod exact_date_opt {
    use super::*;
    pub fn serialize<S: Serializer>(
        date: &Option<NaiveDate>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match date {
            Some(d) => serializer.serialize_str(&format_exact_date(*d)),
            None => serializer.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<NaiveDate>, D::Error> {
        match deserialize_text_or_null(deserializer)? {
            Some(text) => parse_exact_date(&text).map_err(de::Error::custom),
            None => Ok(None),
        }
    }
}

/// Parses an Exact Online instant (`Modified`, `Created`, `DeletedDate`): `"/Date(1715558400123)/"` (the Dutch
/// wall-clock time written as if UTC, converted with [`crate::cet::utc_from_wall`]) or ISO-8601 — with a zone
/// (`"2024-05-13T10:00:00.123Z"`) as given, without one as Dutch local time. `Ok(None)` for `""`.
pub fn parse_exact_instant(value: &str) -> Result<Option<DateTime<Utc>>, ParseError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if let Some(inner) = trimmed
        .strip_prefix("/Date(")
        .and_then(|s| s.strip_suffix(")/"))
    {
        let digits_end = inner
            .char_indices()
            .skip(1)
            .find(|(_, c)| !c.is_ascii_digit())
            .map_or(inner.len(), |(i, _)| i);
        let ms: i64 = inner[..digits_end].parse().map_err(|_| {
            ParseError::new("Exact instant", value, "expected /Date(milliseconds)/")
        })?;
        return crate::cet::instant_from_exact_ms(ms)
            .map(Some)
            .ok_or_else(|| ParseError::new("Exact instant", value, "milliseconds out of range"));
    }
    if let Some(at) = parse_zoned(trimmed) {
        return Ok(Some(at));
    }
    NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|d| Some(crate::cet::utc_from_wall(d)))
        .map_err(|_| {
            ParseError::new(
                "Exact instant",
                value,
                "expected /Date(ms)/ or an ISO-8601 date and time",
            )
        })
}

/// Parses a Vantagepoint date and time (`ModDate`): `"2014-06-23T14:37:27.083"`, with or without the
/// fraction (VP keeps server-local time without a zone; a trailing `Z` or offset is ignored). `Ok(None)` for `""`.
pub fn parse_vp_datetime(value: &str) -> Result<Option<NaiveDateTime>, ParseError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(Some(dt.naive_local()));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d"] {
        let text = trimmed.trim_end_matches('Z');
        if format == "%Y-%m-%d" {
            if let Ok(d) = NaiveDate::parse_from_str(text, format) {
                return Ok(d.and_hms_opt(0, 0, 0));
            }
        } else if let Ok(dt) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(dt));
        }
    }
    Err(ParseError::new(
        "Vantagepoint date and time",
        value,
        "expected YYYY-MM-DDTHH:MM:SS.fff",
    ))
}

/// Serde helper for a read-only Exact instant: reads like [`parse_exact_instant`], writes ISO-8601.
/// Use with `#[serde(default, with = "exact_instant_opt", skip_serializing)]`.
pub mod exact_instant_opt {
    use super::*;
    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_str(&at.to_rfc3339()),
            None => serializer.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        match deserialize_text_or_null(deserializer)? {
            Some(text) => parse_exact_instant(&text).map_err(de::Error::custom),
            None => Ok(None),
        }
    }
}

/// Serde helper for a read-only Vantagepoint date and time (`ModDate`): reads like [`parse_vp_datetime`],
/// writes `YYYY-MM-DDTHH:MM:SS.fff`. Use with `#[serde(default, with = "vp_datetime_opt", skip_serializing)]`.
pub mod vp_datetime_opt {
    use super::*;
    pub fn serialize<S: Serializer>(
        at: &Option<NaiveDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_str(&at.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()),
            None => serializer.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<NaiveDateTime>, D::Error> {
        match deserialize_text_or_null(deserializer)? {
            Some(text) => parse_vp_datetime(&text).map_err(de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn periods_parse_from_numbers_and_strings_and_refuse_period_zero() {
        assert_eq!(
            Period::from_yyyypp(202606).map(|p| (p.year(), p.number())),
            Ok((2026, 6))
        );
        assert_eq!(Period::parse("202613").map(|p| p.as_yyyypp()), Ok(202613));
        assert!(Period::parse("202600").is_err());
        assert!(Period::parse("202654").is_err());
        assert!(Period::parse("2026-6").is_err());
        let from_json: Period =
            serde_json::from_str("\"201305\"").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            serde_json::to_string(&from_json).ok(),
            Some("201305".to_owned())
        );
    }

    #[test]
    fn vantagepoint_dates_read_the_wire_format_and_empty_is_none() {
        assert_eq!(
            parse_vp_date("2017-12-23T00:00:00.000"),
            Ok(Some(date(2017, 12, 23)))
        );
        assert_eq!(parse_vp_date(""), Ok(None));
        assert!(parse_vp_date("23/12/2017").is_err());
        assert_eq!(
            format_vp_date(date(2017, 12, 23)),
            "2017-12-23T00:00:00.000"
        );
    }

    #[test]
    fn exact_dates_read_epoch_milliseconds_and_iso() {
        assert_eq!(
            parse_exact_date("/Date(1351209600000)/"),
            Ok(Some(date(2012, 10, 26)))
        );
        assert_eq!(
            parse_exact_date("2024-05-13T00:00:00Z"),
            Ok(Some(date(2024, 5, 13)))
        );
        assert_eq!(
            parse_exact_date("2024-05-13T00:00"),
            Ok(Some(date(2024, 5, 13)))
        );
        assert_eq!(parse_exact_date("2024-05-13"), Ok(Some(date(2024, 5, 13))));
        assert!(parse_exact_date("/Date(abc)/").is_err());
    }

    fn wall_ms(s: &str) -> String {
        let ms = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
            .unwrap_or_default()
            .and_utc()
            .timestamp_millis();
        format!("/Date({ms})/")
    }

    #[test]
    fn exact_dates_at_month_ends_and_clock_changes_are_the_dutch_calendar_dates() {
        // A payment Exact registered at 00:30 on 1 June (CEST) is dated 1 June, period 6.
        assert_eq!(
            parse_exact_date(&wall_ms("2024-06-01T00:30:00")),
            Ok(Some(date(2024, 6, 1)))
        );
        // The same moment sent as a UTC instant is still 1 June in Exact.
        assert_eq!(
            parse_exact_date("2024-05-31T22:30:00Z"),
            Ok(Some(date(2024, 6, 1)))
        );
        // Winter: 23:30 UTC on 31 January is 00:30 CET on 1 February.
        assert_eq!(
            parse_exact_date("2024-01-31T23:30:00Z"),
            Ok(Some(date(2024, 2, 1)))
        );
        assert_eq!(
            parse_exact_date("2024-01-31T22:30:00+00:00"),
            Ok(Some(date(2024, 1, 31)))
        );
        // Around the spring and autumn changes (last Sundays of March and October).
        assert_eq!(
            parse_exact_date("2024-03-30T23:30:00Z"),
            Ok(Some(date(2024, 3, 31)))
        );
        assert_eq!(
            parse_exact_date("2024-10-26T22:30:00Z"),
            Ok(Some(date(2024, 10, 27)))
        );
        assert_eq!(
            parse_exact_date("2024-10-31T23:30:00Z"),
            Ok(Some(date(2024, 11, 1)))
        );
        // Outgoing dates are Dutch local midnight, without a zone.
        assert_eq!(format_exact_date(date(2024, 6, 1)), "2024-06-01T00:00:00");
        assert_eq!(
            parse_exact_date(&format_exact_date(date(2024, 6, 1))),
            Ok(Some(date(2024, 6, 1)))
        );
    }

    #[test]
    fn exact_instants_convert_between_the_dutch_clock_and_utc_in_both_seasons() {
        let utc = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default()
        };
        for (wall, instant) in [
            ("2024-06-01T00:30:00", "2024-05-31T22:30:00Z"),
            ("2024-02-01T00:30:00", "2024-01-31T23:30:00Z"),
            ("2024-03-31T03:00:00", "2024-03-31T01:00:00Z"),
            ("2024-03-31T01:59:59", "2024-03-31T00:59:59Z"),
            ("2024-10-27T03:00:00", "2024-10-27T02:00:00Z"),
        ] {
            assert_eq!(
                parse_exact_instant(&wall_ms(wall)),
                Ok(Some(utc(instant))),
                "{wall}"
            );
            assert_eq!(parse_exact_instant(wall), Ok(Some(utc(instant))), "{wall}");
            assert_eq!(format_exact_instant(utc(instant)), wall);
        }
    }

    #[test]
    fn exact_instants_and_vp_datetimes_read_in_their_wire_forms() {
        assert_eq!(
            parse_exact_instant("/Date(1715558400123)/")
                .unwrap_or_default()
                .map(|d| d.timestamp_millis()),
            // 2024-05-13T00:00:00.123 on the Dutch clock (CEST) is 22:00:00.123 UTC the day before.
            Some(1_715_558_400_123 - 7_200_000)
        );
        assert_eq!(
            parse_exact_instant("2024-05-13T00:00:00.5")
                .unwrap_or_default()
                .map(|d| d.timestamp_millis()),
            Some(1_715_558_400_500 - 7_200_000)
        );
        assert_eq!(
            parse_exact_instant("2024-05-13T00:00:00.5Z")
                .unwrap_or_default()
                .map(|d| d.timestamp_millis()),
            Some(1_715_558_400_500)
        );
        assert_eq!(parse_exact_instant(" ").unwrap_or_default(), None);
        assert!(parse_exact_instant("yesterday").is_err());
        let vp = parse_vp_datetime("2014-06-23T14:37:27.083")
            .unwrap_or_default()
            .map(|d| d.format("%H:%M:%S%.3f").to_string());
        assert_eq!(vp.as_deref(), Some("14:37:27.083"));
        assert!(
            parse_vp_datetime("2014-06-23T14:37:27")
                .unwrap_or_default()
                .is_some()
        );
        assert!(parse_vp_datetime("23 June").is_err());
    }
}
