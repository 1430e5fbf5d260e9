//! Tolerant decoding of Vantagepoint's wire quirks.
//!
//! VP answers lists and single records alike as bare arrays, sometimes wraps them (`{"array"|"Body"|"rows":
//! [...]}`), sometimes returns a JSON document encoded as a JSON *string* (PostTransFile), spells booleans
//! `"Y"`/`"N"`, `true`/`false` or `"true"`, sends numbers as strings (`"121.00"`) and empty dates as `""`.
//! These helpers turn all of that into plain rows and typed values at the edge, so nothing past this module
//! sees a quirk. The `serde` functions are used with `#[serde(deserialize_with = ...)]` on private wire structs.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde_json::Value;

use crate::error::VpError;

const WRAPPER_KEYS: &[&str] = &["array", "body", "rows", "data", "value", "items", "results"];

/// The rows of an answer: a bare array, a wrapped array, a single object (one row), a JSON string holding
/// any of those, or nothing (`null`, `""`).
pub fn rows(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        Value::String(text) => {
            let trimmed = text.trim();
            if trimmed.is_empty() {
                return Vec::new();
            }
            match serde_json::from_str::<Value>(trimmed) {
                Ok(inner @ (Value::Array(_) | Value::Object(_))) => rows(inner),
                _ => vec![Value::String(text)],
            }
        }
        Value::Object(map) => {
            let wrapped = map.iter().find_map(|(k, v)| {
                let key = k.to_ascii_lowercase();
                (WRAPPER_KEYS.contains(&key.as_str()) && v.is_array()).then(|| v.clone())
            });
            match wrapped {
                // A wrapper holds exactly the array (plus perhaps paging metadata), never record fields.
                Some(Value::Array(items)) if map.len() <= 4 => items,
                _ => vec![Value::Object(map)],
            }
        }
        other => vec![other],
    }
}

/// Decodes every row of `value` as `T`; `context` names the call for the error.
pub fn decode_rows<T: DeserializeOwned>(value: Value, context: &str) -> Result<Vec<T>, VpError> {
    rows(value)
        .into_iter()
        .map(|row| serde_json::from_value(row).map_err(|e| VpError::decode(context, e)))
        .collect()
}

/// The first row of `value`, if any.
pub fn decode_first<T: DeserializeOwned>(
    value: Value,
    context: &str,
) -> Result<Option<T>, VpError> {
    match rows(value).into_iter().next() {
        Some(row) => serde_json::from_value(row)
            .map(Some)
            .map_err(|e| VpError::decode(context, e)),
        None => Ok(None),
    }
}

/// A JSON answer that may itself be a JSON-encoded string (`"{\"retList\": \"1\"}"`): the inner document.
pub fn unwrap_json_string(value: Value) -> Value {
    match value {
        Value::String(text) => match serde_json::from_str::<Value>(text.trim()) {
            Ok(inner) => inner,
            Err(_) => Value::String(text),
        },
        other => other,
    }
}

// ------------------------------------------------------------------------------------------------------
// Scalar coercions
// ------------------------------------------------------------------------------------------------------

/// `"Y"`, `"y"`, `"true"`, `"1"`, `true`, `1` → true; `"N"`, `""`, `"false"`, `false`, `0`, null → false.
pub fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Null => Some(false),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" | "1" | "t" => Some(true),
            "n" | "no" | "false" | "0" | "f" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A decimal from a JSON number or a numeric string (`"121.00"`, `" 5 "`); empty / null → `None`.
pub fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => {
            let text = n.to_string();
            text.parse::<Decimal>()
                .ok()
                .or_else(|| Decimal::from_scientific(&text).ok())
        }
        Value::String(s) => {
            let t = s.trim().replace(',', "");
            if t.is_empty() {
                return None;
            }
            t.parse::<Decimal>()
                .ok()
                .or_else(|| Decimal::from_scientific(&t).ok())
        }
        _ => None,
    }
}

/// Text from a string or a number (`Account: 6100` and `Account: "6100"` are the same account).
/// Numbers that are integral in a float-looking form (`"121.00"`) keep their text; callers that want the
/// canonical account number use [`account_number`].
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "Y" } else { "N" }.to_owned()),
        _ => None,
    }
}

/// An account number as VP keys it: `"121.00"` and `121` become `"121"`; `"101.10"` (a real sub-account)
/// stays `"101.10"`.
pub fn account_number(raw: &str) -> String {
    let t = raw.trim();
    if let Some((int, frac)) = t.split_once('.')
        && !int.is_empty()
        && int.chars().all(|c| c.is_ascii_digit())
        && !frac.is_empty()
        && frac.chars().all(|c| c == '0')
    {
        return int.to_owned();
    }
    t.to_owned()
}

/// An integer from a number or a numeric string (`Period: "202606"`, `PostSeq: 59.0`).
pub fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| decimal(value).and_then(|d| d.trunc().to_string().parse().ok())),
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i64>()
                .ok()
                .or_else(|| decimal(value).and_then(|d| d.trunc().to_string().parse().ok()))
        }
        _ => None,
    }
}

/// A VP timestamp (`2017-12-23T00:00:00.000`, with or without fraction or zone; a bare date) read as UTC;
/// `""` / null → `None`.
pub fn datetime(value: &Value) -> Option<DateTime<Utc>> {
    let Value::String(s) = value else { return None };
    parse_datetime(s)
}

pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(ndt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(ndt.and_utc());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// VP's timestamp format for filters and bodies (`2026-06-15T14:02:11.000`, no zone; VP stores local
/// server time, and this client treats all VP timestamps as UTC consistently on both sides).
pub fn format_datetime(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
}

/// A column of a row, matched exactly first and then case-insensitively (VP's JSON binder ignores case).
pub fn field<'a>(row: &'a Value, key: &str) -> Option<&'a Value> {
    let map = row.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// A column as trimmed text; blank is `None`.
pub fn field_text(row: &Value, key: &str) -> Option<String> {
    field(row, key)
        .and_then(text)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// A column as an amount.
pub fn field_decimal(row: &Value, key: &str) -> Option<Decimal> {
    field(row, key).and_then(decimal)
}

/// A column as a date (the date part of a VP timestamp).
pub fn field_date(row: &Value, key: &str) -> Option<NaiveDate> {
    field(row, key).and_then(datetime).map(|d| d.date_naive())
}

// ------------------------------------------------------------------------------------------------------
// serde adapters (for `#[serde(deserialize_with = ...)]`)
// ------------------------------------------------------------------------------------------------------

pub mod serde_flag {
    use super::*;
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        let v = Value::deserialize(d)?;
        flag(&v)
            .ok_or_else(|| de::Error::custom(format!("expected a Y/N or boolean flag, got {v}")))
    }
}

pub mod serde_decimal {
    use super::*;
    /// Missing, null or `""` → zero.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Null => Ok(Decimal::ZERO),
            Value::String(s) if s.trim().is_empty() => Ok(Decimal::ZERO),
            _ => {
                decimal(&v).ok_or_else(|| de::Error::custom(format!("expected an amount, got {v}")))
            }
        }
    }
}

pub mod serde_opt_decimal {
    use super::*;
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Null => Ok(None),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            _ => decimal(&v)
                .map(Some)
                .ok_or_else(|| de::Error::custom(format!("expected an amount, got {v}"))),
        }
    }
}

pub mod serde_text {
    use super::*;
    /// String or number → text; null → `""`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Null => Ok(String::new()),
            _ => text(&v).ok_or_else(|| de::Error::custom(format!("expected text, got {v}"))),
        }
    }
}

pub mod serde_int {
    use super::*;
    /// Number or numeric string; null / `""` → 0.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Null => Ok(0),
            Value::String(s) if s.trim().is_empty() => Ok(0),
            _ => integer(&v)
                .ok_or_else(|| de::Error::custom(format!("expected an integer, got {v}"))),
        }
    }
}

pub mod serde_opt_datetime {
    use super::*;
    /// `""` / null → `None`; an unparseable date is an error, not silently `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Null => Ok(None),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => parse_datetime(s)
                .map(Some)
                .ok_or_else(|| de::Error::custom(format!("expected a date, got {s:?}"))),
            _ => Err(de::Error::custom(format!("expected a date, got {v}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bare_array_is_its_own_rows() {
        assert_eq!(rows(json!([{"a": 1}, {"a": 2}])).len(), 2);
    }

    #[test]
    fn wrapped_arrays_are_unwrapped_whatever_the_wrapper_key() {
        for key in ["array", "Body", "rows"] {
            let v = json!({ key: [{"Vendor": "V1"}, {"Vendor": "V2"}] });
            let r = rows(v);
            assert_eq!(r.len(), 2, "wrapper {key}");
            assert_eq!(r[1]["Vendor"], "V2");
        }
    }

    #[test]
    fn a_single_object_is_one_row() {
        let r = rows(json!({"ClientID": "C1", "Name": "Acme"}));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0]["ClientID"], "C1");
    }

    #[test]
    fn a_json_string_holding_an_array_is_decoded() {
        let r = rows(Value::String("[{\"Batch\":\"B1\"}]".into()));
        assert_eq!(r[0]["Batch"], "B1");
    }

    #[test]
    fn null_and_empty_answers_have_no_rows() {
        assert!(rows(Value::Null).is_empty());
        assert!(rows(Value::String(String::new())).is_empty());
        assert!(rows(json!([])).is_empty());
    }

    #[test]
    fn flags_accept_y_n_booleans_and_boolean_strings() {
        for (v, want) in [
            (json!("Y"), true),
            (json!("N"), false),
            (json!(true), true),
            (json!(false), false),
            (json!("true"), true),
            (json!("false"), false),
            (json!(""), false),
            (json!(null), false),
            (json!(1), true),
        ] {
            assert_eq!(flag(&v), Some(want), "{v}");
        }
        assert_eq!(flag(&json!("maybe")), None);
    }

    #[test]
    fn amounts_accept_numbers_and_numeric_strings() {
        assert_eq!(decimal(&json!("121.00")), Some(Decimal::new(12100, 2)));
        assert_eq!(decimal(&json!(-1250.5)), Some(Decimal::new(-12505, 1)));
        assert_eq!(decimal(&json!(120)), Some(Decimal::from(120)));
        assert_eq!(decimal(&json!("")), None);
        assert_eq!(decimal(&json!("abc")), None);
    }

    #[test]
    fn float_looking_account_numbers_are_canonicalised_but_real_sub_accounts_are_kept() {
        assert_eq!(account_number("121.00"), "121");
        assert_eq!(account_number("101.10"), "101.10");
        assert_eq!(account_number(" 6100 "), "6100");
        assert_eq!(account_number("A.00"), "A.00");
    }

    #[test]
    fn integers_accept_strings_and_float_looking_numbers() {
        assert_eq!(integer(&json!("202606")), Some(202606));
        assert_eq!(integer(&json!(59)), Some(59));
        assert_eq!(integer(&json!("59.0")), Some(59));
        assert_eq!(integer(&json!(59.0)), Some(59));
    }

    #[test]
    fn vp_timestamps_parse_with_or_without_fraction_and_empty_dates_are_none() {
        let a = datetime(&json!("2017-12-23T00:00:00.000")).unwrap();
        let b = datetime(&json!("2017-12-23T00:00:00")).unwrap();
        let c = datetime(&json!("2017-12-23T00:00:00Z")).unwrap();
        let d = datetime(&json!("2017-12-23")).unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(c, d);
        assert_eq!(datetime(&json!("")), None);
        assert_eq!(format_datetime(a), "2017-12-23T00:00:00.000");
    }

    #[derive(Debug, Deserialize)]
    struct Sample {
        #[serde(default, deserialize_with = "serde_flag::deserialize")]
        on: bool,
        #[serde(default, deserialize_with = "serde_decimal::deserialize")]
        amount: Decimal,
        #[serde(default, deserialize_with = "serde_text::deserialize")]
        account: String,
        #[serde(default, deserialize_with = "serde_opt_datetime::deserialize")]
        date: Option<DateTime<Utc>>,
        #[serde(default, deserialize_with = "serde_int::deserialize")]
        period: i64,
    }

    #[test]
    fn serde_adapters_decode_a_quirky_row() {
        let s: Sample = serde_json::from_value(
            json!({"on": "Y", "amount": "12.50", "account": 6100, "date": "", "period": "202606"}),
        )
        .unwrap();
        assert!(s.on);
        assert_eq!(s.amount, Decimal::new(1250, 2));
        assert_eq!(s.account, "6100");
        assert_eq!(s.date, None);
        assert_eq!(s.period, 202606);
        let empty: Sample = serde_json::from_value(json!({})).unwrap();
        assert!(!empty.on);
        assert_eq!(empty.amount, Decimal::ZERO);
    }

    #[test]
    fn a_bad_date_is_an_error_not_a_silent_none() {
        let r: Result<Sample, _> = serde_json::from_value(json!({"date": "not a date"}));
        assert!(r.is_err());
    }
}
